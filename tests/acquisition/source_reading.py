"""Read every entry of a source the way the pipeline does: in order, keeping the bytes a
stream gave before it failed, and recording the failure as a Problem with its offset."""

from __future__ import annotations

from acquisition.base import Entry, EntryKind, Problem, Source
from acquisition.errors import EntryReadError


def read_all(source: Source) -> tuple[list[Entry], list[Problem], dict[str, bytes]]:
    entries: list[Entry] = []
    problems: list[Problem] = []
    content: dict[str, bytes] = {}
    with source:
        for item in source.entries():
            if isinstance(item, Problem):
                problems.append(item)
                continue
            entries.append(item)
            if item.kind is EntryKind.FILE:
                got = bytearray()
                with item.open() as stream:
                    try:
                        while chunk := stream.read(1 << 20):
                            got += chunk
                    except EntryReadError as exc:
                        problems.append(Problem(item.path, "read", str(exc), exc.offset))
                content[item.path] = bytes(got)
    return entries, problems, content

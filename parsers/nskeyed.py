"""Just enough NSKeyedArchiver to read archived dictionaries (iOS transcripts, MBFile).

Objects are resolved lazily through ``$objects`` with a depth bound, so a cyclic or
malicious archive cannot recurse forever, and a node budget, so an archive whose levels
each list the next one twice (2**depth nodes from a few hundred bytes) cannot either.
"""

from __future__ import annotations

import plistlib
from typing import Any

MAX_DEPTH = 32
MAX_NODES = 200_000


class ArchiveError(ValueError):
    pass


def unarchive(data: bytes) -> Any:
    """The archive's root object as plain Python values (dicts, lists, str, numbers)."""
    try:
        archive = plistlib.loads(data)
    except Exception as exc:
        raise ArchiveError(f"not a property list ({type(exc).__name__})") from None
    if not isinstance(archive, dict) or "$objects" not in archive or "$top" not in archive:
        raise ArchiveError("not an NSKeyedArchiver archive")
    objects = archive["$objects"]
    top = archive["$top"]
    if not isinstance(objects, list):
        raise ArchiveError("$objects is not an array")
    budget = [MAX_NODES]
    root = top.get("root", next(iter(top.values()), None)) if isinstance(top, dict) else None

    def resolve(value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            raise ArchiveError("archive nests too deeply (cycle?)")
        budget[0] -= 1
        if budget[0] < 0:
            raise ArchiveError(f"archive expands to more than {MAX_NODES} objects")
        if isinstance(value, plistlib.UID):
            if value.data >= len(objects):
                raise ArchiveError(f"UID {value.data} outside $objects")
            value = objects[value.data]
        if isinstance(value, str) and value == "$null":
            return None
        if isinstance(value, dict):
            if "NS.string" in value:
                return value["NS.string"]
            if "NS.data" in value:
                return resolve(value["NS.data"], depth + 1)
            if "NS.objects" in value and "NS.keys" in value:
                keys = [resolve(k, depth + 1) for k in value["NS.keys"]]
                vals = [resolve(v, depth + 1) for v in value["NS.objects"]]
                if not all(isinstance(k, str | int | float | bool | None) for k in keys):
                    raise ArchiveError("a dictionary key is not a plain value")
                return dict(zip(keys, vals, strict=False))
            if "NS.objects" in value:
                return [resolve(v, depth + 1) for v in value["NS.objects"]]
            return {k: resolve(v, depth + 1) for k, v in value.items() if k != "$class"}
        if isinstance(value, list):
            return [resolve(v, depth + 1) for v in value]
        return value

    try:
        return resolve(root, 0)
    except (TypeError, AttributeError) as exc:  # NS.keys that is not a list, and the like
        raise ArchiveError(f"malformed archive ({type(exc).__name__})") from None

"""Every stored value of a structured file, with where it sits.

Keys and encoded audio hide in the same places: shared_prefs XML, plists, JSON, SQLite
cells and config files. This module turns each such file into a flat stream of
:class:`Value` (text or bytes) with a locator for the artifact line and a short note
for a ``method`` text ("<string name="k">", "json $.a.b", "table t rowid 3 column c"),
so key hunting and decoding walk the file once. Parsing is bounded: files above
:data:`MAX_STRUCTURED` are not parsed, XML with entity declarations is refused, and a
SQLite database yields at most :data:`MAX_CELLS` cells.
"""

from __future__ import annotations

import json
import plistlib
import sqlite3
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass, field

from parsers.base import Context, Item
from parsers.sqlite_live import open_readonly_copy, table_names

MAX_STRUCTURED = 16 << 20
MAX_CELLS = 500_000
MAX_DEPTH = 64
CONF_SUFFIXES = (".conf", ".ini", ".properties", ".cfg", ".env")


class ValueError_(Exception):
    """A structured file that could not be read (the caller reports it)."""


@dataclass(frozen=True)
class Value:
    path: str  # evidence path of the stored file
    locator: str  # where inside it (artifact locator)
    note: str  # where inside it, for a method text
    name: str | None  # the value's own name (prefs key, JSON key, column, attribute)
    value: str | bytes = field(repr=False)


def kind_of(item: Item, head: bytes) -> str | None:
    """Which structured reader applies: sqlite, plist, xml, json, conf, or None."""
    name = item.name.lower()
    stripped = head.lstrip(b"\xef\xbb\xbf \t\r\n")
    if head.startswith(b"SQLite format 3\x00"):
        return "sqlite"
    if head.startswith(b"bplist00"):
        return "plist"
    if stripped.startswith(b"<"):
        if b"<!DOCTYPE plist" in head or b"<plist" in head:
            return "plist"
        return "xml"
    if name.endswith(".json") or stripped[:1] in (b"{", b"["):
        return "json"
    if name.endswith(CONF_SUFFIXES):
        return "conf"
    return None


def walk(item: Item, kind: str, data: bytes | None, ctx: Context) -> Iterator[Value]:
    """The values of one structured file; raises :class:`ValueError_` for unreadable ones."""
    if kind == "sqlite":
        yield from _sqlite(item, ctx)
        return
    if data is None or len(data) > MAX_STRUCTURED:
        return
    if kind == "plist":
        try:
            root = plistlib.loads(data)
        except Exception as exc:
            raise ValueError_(f"not a readable plist: {type(exc).__name__}") from exc
        yield from _tree(item.path, "plist", root)
    elif kind == "json":
        try:
            root = json.loads(data.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return  # a file that only looked like JSON: nothing to report
        yield from _tree(item.path, "json", root)
    elif kind == "xml":
        yield from _xml(item.path, data)
    elif kind == "conf":
        yield from _conf(item.path, data)


def _tree(path: str, scheme: str, node: object) -> Iterator[Value]:
    stack: list[tuple[str, str | None, object, int]] = [("$", None, node, 0)]
    while stack:
        where, name, obj, depth = stack.pop()
        if isinstance(obj, dict):
            if depth < MAX_DEPTH:
                for k in reversed(list(obj)):
                    stack.append((f"{where}.{k}", str(k), obj[k], depth + 1))
        elif isinstance(obj, list):
            if depth < MAX_DEPTH:
                for i in reversed(range(len(obj))):
                    stack.append((f"{where}[{i}]", name, obj[i], depth + 1))
        elif isinstance(obj, str | bytes):
            yield Value(path, f"{scheme}:{where}", f"{scheme} {where}", name, obj)


def _xml(path: str, data: bytes) -> Iterator[Value]:
    if b"<!ENTITY" in data:
        raise ValueError_("XML declares entities: not parsed")
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        return
    stack: list[tuple[ET.Element, str]] = [(root, "/" + root.tag)]
    while stack:
        el, where = stack.pop()
        name = el.get("name")
        if name is not None:
            label = f'<{el.tag} name="{name}">'
            loc = f'xml:{where}[@name="{name}"]'
        else:
            label, loc = f"<{el.tag}>", f"xml:{where}"
        text = (el.text or "").strip()
        if text:
            yield Value(path, loc, label, name or el.tag, text)
        for attr, val in el.attrib.items():
            if attr == "name":
                continue
            yield Value(path, f"{loc}/@{attr}", f"{label} @{attr}", name or attr, val)
        children = list(el)
        for i, child in reversed(list(enumerate(children))):
            stack.append((child, f"{where}/{child.tag}[{i + 1}]"))


def _conf(path: str, data: bytes) -> Iterator[Value]:
    text = data.decode("utf-8", "replace")
    for line in text.splitlines():
        line = line.strip()
        if not line or line[0] in "#;![":
            continue
        for sep in ("=", ":"):
            if sep in line:
                key, _, val = line.partition(sep)
                key, val = key.strip(), val.strip().strip("\"'")
                if key and val:
                    yield Value(path, f"conf:{key}", f"entry {key}", key, val)
                break


def _sqlite(item: Item, ctx: Context) -> Iterator[Value]:
    try:
        conn = open_readonly_copy(item, ctx)
    except (sqlite3.Error, OSError) as exc:
        raise ValueError_(f"SQLite database not readable: {exc}") from exc
    cells = 0
    try:
        for table in sorted(table_names(conn)):
            if table.startswith("sqlite_"):
                continue
            quoted = '"' + table.replace('"', '""') + '"'
            try:
                cur = conn.execute(f"SELECT rowid, * FROM {quoted}")
                with_rowid = True
            except sqlite3.Error:
                try:
                    cur = conn.execute(f"SELECT * FROM {quoted}")
                except sqlite3.Error:
                    continue
                with_rowid = False
            cols = [d[0] for d in cur.description]
            try:
                for n, row in enumerate(cur):
                    rowid = row[0] if with_rowid else n + 1
                    first = 1 if with_rowid else 0
                    for col, val in zip(cols[first:], row[first:], strict=False):
                        if not isinstance(val, str | bytes) or len(val) < 4:
                            continue
                        cells += 1
                        if cells > MAX_CELLS:
                            raise ValueError_(
                                f"more than {MAX_CELLS} text/blob cells: rest not read"
                            )
                        yield Value(
                            item.path,
                            f"sqlite:table={table},rowid={rowid},column={col}",
                            f"table {table} rowid {rowid} column {col}",
                            col,
                            val,
                        )
            except sqlite3.Error as exc:
                raise ValueError_(f"SQLite table {table} not fully readable: {exc}") from exc
    finally:
        conn.close()

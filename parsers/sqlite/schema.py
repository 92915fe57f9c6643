"""Table definitions from sqlite_master: column names, declared types and affinities.

Recovered records carry no table name; they are matched to a table by column count
and by whether each stored value could have come from the column's type affinity.
The SQL parser below is deliberately small: it only needs column names and types.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_CONSTRAINT_WORDS = {
    "CONSTRAINT", "PRIMARY", "NOT", "NULL", "UNIQUE", "CHECK", "DEFAULT", "COLLATE",
    "REFERENCES", "GENERATED", "AS", "ON",
}  # fmt: skip
_TABLE_CONSTRAINTS = {"CONSTRAINT", "PRIMARY", "UNIQUE", "CHECK", "FOREIGN"}
_TOKEN = re.compile(
    r"""\s*(?:("(?:[^"]|"")*")|(`(?:[^`]|``)*`)|(\[[^\]]*\])|('(?:[^']|'')*')|([A-Za-z_0-9$.+-]+)|(.))""",
    re.S,
)


@dataclass
class Column:
    name: str
    declared: str
    affinity: str  # INTEGER, TEXT, BLOB, REAL, NUMERIC
    rowid_alias: bool = False
    primary_key: bool = False
    not_null: bool = False


@dataclass
class Table:
    name: str
    root: int
    sql: str
    columns: list[Column] = field(default_factory=list)
    without_rowid: bool = False

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def stored_columns(self) -> list[Column]:
        """Columns in the order they are stored in a record."""
        if not self.without_rowid:
            return self.columns
        pk = [c for c in self.columns if c.primary_key]
        return pk + [c for c in self.columns if not c.primary_key]


def affinity(declared: str) -> str:
    t = declared.upper()
    if "INT" in t:
        return "INTEGER"
    if "CHAR" in t or "CLOB" in t or "TEXT" in t:
        return "TEXT"
    if "BLOB" in t or not t.strip():
        return "BLOB"
    if "REAL" in t or "FLOA" in t or "DOUB" in t:
        return "REAL"
    return "NUMERIC"


def _tokens(sql: str) -> list[str]:
    out = []
    for m in _TOKEN.finditer(sql):
        tok = next(g for g in m.groups() if g is not None)
        if tok.strip():
            out.append(tok)
    return out


def _unquote(tok: str) -> str:
    if len(tok) >= 2 and tok[0] in "\"`'[":
        body = tok[1:-1]
        if tok[0] in "\"`'":
            body = body.replace(tok[0] * 2, tok[0])
        return body
    return tok


def _split_top(tokens: list[str]) -> list[list[str]]:
    parts: list[list[str]] = [[]]
    depth = 0
    for tok in tokens:
        if tok == "(":
            depth += 1
        elif tok == ")":
            depth -= 1
        if tok == "," and depth == 0:
            parts.append([])
        else:
            parts[-1].append(tok)
    return [p for p in parts if p]


def parse_create_table(name: str, root: int, sql: str | None) -> Table:
    table = Table(name, root, sql or "")
    if not sql:
        return table
    toks = _tokens(sql)
    try:
        open_at = toks.index("(")
    except ValueError:
        return table  # CREATE TABLE ... AS SELECT: columns unknown
    depth = 0
    close_at = len(toks)
    for i in range(open_at, len(toks)):
        if toks[i] == "(":
            depth += 1
        elif toks[i] == ")":
            depth -= 1
            if depth == 0:
                close_at = i
                break
    tail = " ".join(t.upper() for t in toks[close_at + 1 :])
    table.without_rowid = "WITHOUT ROWID" in tail
    pk_names: list[str] = []
    for part in _split_top(toks[open_at + 1 : close_at]):
        head = part[0].upper()
        if head in _TABLE_CONSTRAINTS:
            upper_part = [t.upper() for t in part]
            if "PRIMARY" in upper_part and "(" in part:
                inner = part[part.index("(") + 1 :]
                pk_names += [
                    _unquote(t)
                    for t in inner
                    if t not in ("(", ")", ",") and t.upper() not in ("ASC", "DESC", "COLLATE")
                ]
            continue
        col_name = _unquote(part[0])
        type_toks: list[str] = []
        for tok in part[1:]:
            if tok.upper() in _CONSTRAINT_WORDS:
                break
            type_toks.append(tok)
        declared = " ".join(type_toks).replace("( ", "(").replace(" )", ")")
        upper = [t.upper() for t in part]
        is_pk = "PRIMARY" in upper
        desc = is_pk and "DESC" in upper[upper.index("PRIMARY") :]
        not_null = any(upper[i] == "NOT" and upper[i + 1] == "NULL" for i in range(len(upper) - 1))
        col = Column(col_name, declared, affinity(declared), primary_key=is_pk, not_null=not_null)
        col.rowid_alias = is_pk and declared.upper() == "INTEGER" and not desc
        table.columns.append(col)
    for col in table.columns:
        if col.name in pk_names:
            col.primary_key = True
            if len(pk_names) == 1 and col.declared.upper() == "INTEGER":
                col.rowid_alias = True
    if table.without_rowid:
        for col in table.columns:
            col.rowid_alias = False
    return table


def compatible(kind: str, aff: str) -> bool:
    """Could a carved value of storage class ``kind`` sit in a column of affinity ``aff``?

    Stricter than SQLite itself (which stores anything anywhere): a TEXT column holding
    a BLOB, or an INTEGER column holding text, is possible but rare, and accepting it
    would let junk bytes pass as rows.
    """
    if kind in ("null", "?"):  # "?": not known (a lost serial type)
        return True
    if aff in ("INTEGER", "REAL"):
        return kind in ("int", "real")
    if aff == "NUMERIC":
        return kind in ("int", "real", "text")
    if aff == "TEXT":
        return kind == "text"
    return True


def type_score(kinds: list[str], table: Table) -> float:
    """Share of columns whose stored class fits the affinity (0 when counts mismatch).

    Fewer values than columns is allowed (rows written before ALTER TABLE ADD COLUMN).
    """
    cols = table.stored_columns()
    if not cols or len(kinds) > len(cols) or len(kinds) == 0:
        return 0.0
    if len(kinds) < len(cols) and len(kinds) < len(cols) - 8:
        return 0.0
    good = 0
    for kind, col in zip(kinds, cols, strict=False):
        if col.rowid_alias and kind not in ("null", "?"):
            continue
        if kind == "null" and col.not_null and not col.rowid_alias:
            continue
        if compatible(kind, col.affinity):
            good += 1
    score = good / len(kinds)
    if len(kinds) < len(cols):
        score *= 0.9
    return score

"""The end-of-run summary: a table for people, JSON for scripts."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table

from vmforensics.case import Case
from vmforensics.severity import ORDER


def summary_json(case: Case, results: list[Any]) -> dict[str, Any]:
    return {
        "case": str(case.root),
        "case_id": case.data.get("case_id"),
        "artifacts": str(case.artifacts),
        "sources": [
            {
                "location": r.location,
                "id": r.sid,
                "kind": r.kind,
                "exit_code": r.exit_code,
                "message": r.message or None,
                "counts": r.counts,
                "severities": r.severities,
            }
            for r in results
        ],
    }


def print_summary(case: Case, results: list[Any]) -> None:
    console = Console(highlight=False)
    table = Table(title=f"Case {case.data.get('case_id')} — {case.root}")
    for col in ("source", "kind", "voicemail", "audio", "findings", "errors", "worst"):
        table.add_column(col)
    for r in results:
        if r.sid is None:
            table.add_row(r.location, "-", "-", "-", "-", "-", "not opened")
            continue
        worst = next((s for s in ORDER if r.severities.get(s)), "-")
        table.add_row(
            f"{r.sid} {r.location}",
            r.kind or "",
            str(r.counts.get("voicemail", 0)),
            str(r.counts.get("audio", 0)),
            str(r.counts.get("finding", 0)),
            str(r.counts.get("error", 0)),
            worst,
        )
    console.print(table)
    console.print(f"artifacts: {case.artifacts}")

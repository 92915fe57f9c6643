"""Helpers for driving the TUI with Textual's Pilot: bounded waits and the case files."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from textual.pilot import Pilot
from textual.widgets import DataTable, Input

WAIT_STEPS = 1200  # x 0.05 s: a bound, never a measurement


async def wait_for(pilot: Pilot, cond: Callable[[], Any], what: str) -> None:
    for _ in range(WAIT_STEPS):
        if cond():
            return
        await pilot.pause(0.05)
    raise AssertionError(f"timed out waiting for {what}")


async def type_into(pilot: Pilot, selector: str, text: str) -> None:
    box = pilot.app.screen.query_one(selector, Input)
    box.focus()
    box.value = ""
    await pilot.pause()
    if len(text) <= 12:
        if text:
            await pilot.press(*text)  # typed key by key
    else:
        box.insert_text_at_cursor(text)  # as a paste: key-by-key is slow for long paths
        await pilot.pause()
    assert box.value == text


def custody(case_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(x) for x in (case_dir / "custody.jsonl").read_text().splitlines()]


def case_json(case_dir: Path) -> dict[str, Any]:
    return json.loads((case_dir / "case.json").read_text())


def artifacts(case_dir: Path) -> list[dict[str, Any]]:
    path = case_dir / "artifacts.jsonl"
    if not path.is_file():
        return []
    return [json.loads(x) for x in path.read_text().splitlines() if x.strip()]


def select_row(table: DataTable, key: str) -> None:
    for index, row_key in enumerate(table.rows):
        if row_key.value == key:
            table.move_cursor(row=index)
            return
    raise AssertionError(f"{key} not in the table")


def make_key(folder: Path, passphrase: str) -> Path:
    """An examiner key with one bcrypt-pbkdf round: cheap to open in tests."""
    from chain_of_custody.seal import generate, write_key

    path = folder / "examiner.key"
    write_key(generate(), path, passphrase, rounds=1)
    return path

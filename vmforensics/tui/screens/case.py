"""Case: create or open a case; its sources and the tail of its custody log."""

from __future__ import annotations

import json
from pathlib import Path
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, DataTable, Input, Label, Static

from vmforensics.tui.screens.base import VmfScreen

CUSTODY_TAIL = 12


class CaseScreen(VmfScreen):
    TITLE_TEXT = "Case"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+o", "open_case", "Open/create")]

    def body(self) -> ComposeResult:
        with VerticalScroll(id="case-form"):
            with Horizontal(classes="row"):
                yield Label("Folder", classes="field-label")
                yield Input(
                    placeholder="case folder (new or existing)", id="case-dir", compact=True
                )
            with Horizontal(classes="row"):
                yield Label("Case id", classes="field-label")
                yield Input(placeholder="default: the folder name", id="case-id", compact=True)
            with Horizontal(classes="row"):
                yield Label("Examiner", classes="field-label")
                yield Input(placeholder="your name", id="examiner", compact=True)
            with Horizontal(classes="row"):
                yield Label("Exhibit", classes="field-label")
                yield Input(placeholder="exhibit reference", id="exhibit", compact=True)
            with Horizontal(classes="row"):
                yield Label("Notes", classes="field-label")
                yield Input(placeholder="free text", id="notes", compact=True)
            with Horizontal(classes="row"):
                yield Button("Open / create case", id="open-case", variant="primary", compact=True)
                yield Static("no case open", id="case-status")
        with Vertical(id="case-info"):
            yield Label("Sources", classes="section")
            yield DataTable(id="sources", cursor_type="row", zebra_stripes=True)
            yield Label("Custody log (latest events)", classes="section")
            yield DataTable(id="custody", cursor_type="row")

    def on_mount(self) -> None:
        super().on_mount()
        sources = self.query_one("#sources", DataTable)
        sources.add_columns("id", "kind", "location", "complete", "audio", "vm")
        custody = self.query_one("#custody", DataTable)
        custody.add_columns("seq", "time (UTC)", "event", "detail")
        if self.vapp.case_dir_hint is not None:
            self.query_one("#case-dir", Input).value = str(self.vapp.case_dir_hint)
        if self.vapp.examiner_hint:
            self.query_one("#examiner", Input).value = self.vapp.examiner_hint
        self.query_one("#case-dir", Input).focus()
        self.show_case()

    def refresh_view(self) -> None:
        self.show_case()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "open-case":
            self.action_open_case()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.action_open_case()

    def action_open_case(self) -> None:
        def value(wid: str) -> str | None:
            text = self.query_one(f"#{wid}", Input).value.strip()
            return text or None

        folder = value("case-dir")
        if not folder:
            self.notify("Name the case folder first.", severity="warning")
            self.query_one("#case-dir", Input).focus()
            return
        if self.vapp.open_case(
            Path(folder).expanduser(),
            value("case-id"),
            value("examiner"),
            value("exhibit"),
            value("notes"),
        ):
            self.show_case()
            self.notify(f"Case {self.vapp.case.data.get('case_id')} open.")  # type: ignore[union-attr]

    def show_case(self) -> None:
        case = self.vapp.case
        status = self.query_one("#case-status", Static)
        sources = self.query_one("#sources", DataTable)
        custody = self.query_one("#custody", DataTable)
        sources.clear()
        custody.clear()
        if case is None:
            status.update("no case open")
            return
        # reload: another screen's worker may have changed case.json
        try:
            case.data = json.loads(case.case_json.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            pass
        d = case.data
        status.update(
            f"OPEN: {d.get('case_id')}  examiner {d.get('examiner')}"
            + (f"  exhibit {d.get('exhibit')}" if d.get("exhibit") else "")
        )
        for src in case.sources():
            counts = src.get("counts") or {}
            complete = "yes" if src.get("complete") else "NO (incomplete)"
            sources.add_row(
                src.get("id"),
                src.get("kind"),
                _short(str(src.get("location")), 40),
                complete,
                str(counts.get("audio", 0)),
                str(counts.get("voicemail", 0)),
            )
        for ev in _tail(case.custody, CUSTODY_TAIL):
            custody.add_row(
                str(ev.get("seq")),
                str(ev.get("time_utc")),
                str(ev.get("event")),
                _clip(_detail(ev.get("detail")), 60),
            )
        if custody.row_count:
            custody.move_cursor(row=custody.row_count - 1)


def _tail(path: Path, n: int) -> list[dict]:
    """The last ``n`` events, reading only the end of the file."""
    try:
        with open(path, "rb") as f:
            f.seek(0, 2)
            size = f.tell()
            f.seek(max(0, size - 64 * 1024))
            lines = f.read().splitlines()
    except OSError:
        return []
    out = []
    for line in lines[-n:]:
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def _detail(detail: object) -> str:
    if not isinstance(detail, dict):
        return ""
    keys = ("source", "command", "prompt", "evidence_path", "output", "bag", "detail")
    bits = [str(detail[k]) for k in keys if k in detail]
    if bits:
        return " ".join(bits)
    # the host name is in case.json; leaving it out keeps the screen the same everywhere
    return ", ".join(f"{k}={v}" for k, v in list(detail.items())[:3] if k != "host")


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]

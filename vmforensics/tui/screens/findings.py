"""Findings: a sortable, filterable table of the case's lines, a detail pane, WAV export."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.coordinate import Coordinate
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Input, Label, Select, Static

from vmforensics.tui import findings_data as fd
from vmforensics.tui.screens.base import VmfScreen

MAX_ROWS = 2000  # a table of every line of a big case would stall the terminal; filter instead
WIDE = 140  # from this width the detail pane sits beside the table
SORTS = ("severity", "type", "source", "path", "what")


class ExportDialog(ModalScreen[Path | None]):
    """Where to write the WAV: any path the user names (outside the case is allowed)."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "dismiss_none", "Cancel")]

    def __init__(self, default: str) -> None:
        super().__init__()
        self.default = default

    def compose(self) -> ComposeResult:
        with Vertical(id="export-dialog"):
            yield Label("Export the selected audio as WAV to:")
            yield Input(value=self.default, id="export-path", compact=True)
            with Horizontal(classes="row"):
                yield Button("Export", id="export-ok", variant="primary", compact=True)
                yield Button("Cancel", id="export-cancel", compact=True)

    def on_mount(self) -> None:
        self.query_one("#export-path", Input).focus()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.dismiss(Path(event.value.strip()) if event.value.strip() else None)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "export-ok":
            value = self.query_one("#export-path", Input).value.strip()
            self.dismiss(Path(value) if value else None)
        else:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)


class FindingsScreen(VmfScreen):
    TITLE_TEXT = "Findings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("s", "sort", "Sort"),
        Binding("slash", "focus_filter", "Filter"),
        Binding("e", "export", "WAV"),
        Binding("r", "reload", "Reload", show=False),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[dict[str, Any]] = []
        self.shown: list[dict[str, Any]] = []
        self.sort_by = "severity"
        self.last_export: fd.Exported | None = None

    def body(self) -> ComposeResult:
        with Horizontal(id="filters"):
            yield Select(
                [(t, t) for t in fd.TYPES], prompt="any type", id="filter-type", compact=True
            )
            yield Select(
                [(s, s) for s in fd.SEVERITIES],
                prompt="any severity",
                id="filter-severity",
                compact=True,
            )
            yield Input(placeholder="/ text filter", id="filter-text", compact=True)
        with Vertical(id="findings-body"):
            yield DataTable(id="findings", cursor_type="row", zebra_stripes=True)
            with VerticalScroll(id="detail"):
                yield Static("", id="detail-text")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#findings", DataTable)
        for name in ("severity", "type", "source", "path", "what"):
            table.add_column(name, key=name)
        self.action_reload()
        table.focus()

    def refresh_view(self) -> None:
        self.action_reload()

    # -- data ------------------------------------------------------------------------
    def action_reload(self) -> None:
        case = self.vapp.case
        self.rows = fd.read_artifacts(case) if case is not None else []
        self.refill()

    def refill(self) -> None:
        kind = self.query_one("#filter-type", Select).value
        sev = self.query_one("#filter-severity", Select).value
        text = self.query_one("#filter-text", Input).value.strip()
        kind_s = kind if isinstance(kind, str) else None
        sev_s = sev if isinstance(sev, str) else None
        self.shown = sorted(
            (r for r in self.rows if fd.matches(r, kind_s, sev_s, text)),
            key=fd.SORT_KEYS[self.sort_by],
        )
        table = self.query_one("#findings", DataTable)
        table.clear()
        # the two free-text columns share what the fixed ones leave
        width = self.app.size.width or 80
        free = max(20, (width // 2 if width >= WIDE else width) - 36)
        path_w, what_w = free // 2, free - free // 2
        for i, row in enumerate(self.shown[:MAX_ROWS]):
            sev_name = row.get("severity")
            table.add_row(
                Text(
                    fd.SEVERITY_LABEL.get(sev_name, "    -"),
                    style=fd.SEVERITY_STYLE.get(sev_name, ""),
                ),
                str(row.get("type")),
                str(row.get("source") or ""),
                _short(str(row.get("evidence_path") or ""), path_w),
                _clip(fd.summary(row), what_w),
                key=str(i),
            )
        total = len(self.rows)
        self.sub_title = f"{len(self.shown)} of {total} lines, sorted by {self.sort_by}"
        if len(self.shown) > MAX_ROWS:
            self.sub_title += f" (first {MAX_ROWS} shown: filter to narrow)"
        if not self.shown:
            message = "no case open (F1)" if self.vapp.case is None else "no lines match"
            self.query_one("#detail-text", Static).update(message)
        else:
            table.move_cursor(row=0)
            self.show_detail(0)

    def on_select_changed(self, event: Select.Changed) -> None:
        self.refill()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input.id == "filter-text":
            self.refill()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        self.query_one("#findings", DataTable).focus()

    def action_focus_filter(self) -> None:
        self.query_one("#filter-text", Input).focus()

    def action_sort(self) -> None:
        self.sort_by = SORTS[(SORTS.index(self.sort_by) + 1) % len(SORTS)]
        self.refill()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = event.column_key.value
        if key in SORTS:
            self.sort_by = key
            self.refill()

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.data_table.id == "findings" and event.row_key.value is not None:
            self.show_detail(int(event.row_key.value))

    def current(self) -> dict[str, Any] | None:
        table = self.query_one("#findings", DataTable)
        if not self.shown or table.cursor_row < 0 or table.cursor_row >= len(self.shown):
            return None
        key = table.coordinate_to_cell_key(Coordinate(table.cursor_row, 0)).row_key.value
        return self.shown[int(key)] if key is not None else None

    def show_detail(self, index: int) -> None:
        case = self.vapp.case
        if case is None or index >= len(self.shown):
            return
        row = self.shown[index]
        out = Text()
        for label, value in fd.detail_lines(case, self.rows, row):
            out.append(f"{label:>14}: ", style="bold")
            out.append(value + "\n")
        if row.get("type") == "audio":
            path = fd.audio_bytes_path(case, row)
            if path is not None:
                out.append("\nfirst bytes:\n", style="bold")
                try:
                    out.append(fd.hex_view(path) + "\n")
                except OSError as exc:
                    out.append(f"unreadable: {exc}\n")
        self.query_one("#detail-text", Static).update(out)

    # -- export ----------------------------------------------------------------------
    def action_export(self) -> None:
        case = self.vapp.case
        row = self.current()
        if case is None or row is None:
            self.notify("Select an audio row first.", severity="warning")
            return
        if row.get("type") != "audio":
            self.notify("Export works on audio rows.", severity="warning")
            return
        default = str(case.root.parent / f"{row.get('id')}.wav")

        def done(path: Path | None) -> None:
            if path is None:
                return
            try:
                self.last_export = fd.export_wav(case, row, path)
            except fd.ExportError as exc:
                self.notify(str(exc), title="Not exported", severity="error", timeout=8)
                return
            except OSError as exc:
                self.notify(f"{path}: {exc.strerror or exc}", severity="error", timeout=8)
                return
            self.notify(f"WAV written: {path} (sha256 {self.last_export.sha256[:16]}…)")

        self.app.push_screen(ExportDialog(default), done)


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else "…" + text[-(width - 1) :]

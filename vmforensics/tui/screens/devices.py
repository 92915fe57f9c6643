"""Devices: the live list (iOS over usbmux, Android over USB, adb server and the TCP
targets the user adds) and offline sources picked in a file browser."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, DirectoryTree, Input, Label

from vmforensics.tui.screens.base import VmfScreen
from vmforensics.tui.state import Target


class DevicesScreen(VmfScreen):
    TITLE_TEXT = "Devices"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+t", "focus_target", "TCP target"),
        Binding("ctrl+b", "focus_browser", "Browse"),
        Binding("ctrl+l", "focus_list", "List"),
    ]

    def body(self) -> ComposeResult:
        with Vertical(id="devices-top"):
            yield Label("Connected devices (Enter: acquire)", classes="section")
            yield DataTable(id="device-list", cursor_type="row", zebra_stripes=True)
            with Horizontal(classes="row"):
                yield Input(
                    placeholder="HOST:PORT of an ADB target over TCP", id="tcp-target", compact=True
                )
                yield Button("Add", id="add-target", compact=True)
        with Vertical(id="devices-offline"):
            yield Label("Offline source: backup folder, .ab, tar, zip, folder", classes="section")
            with Horizontal(classes="row"):
                yield Input(placeholder="path (or pick below)", id="offline-path", compact=True)
                yield Button("Use", id="use-path", compact=True)
            yield DirectoryTree(self.vapp.browse_root, id="browser")

    def on_mount(self) -> None:
        super().on_mount()
        table = self.query_one("#device-list", DataTable)
        table.add_columns("device", "state", "kind", "model", "OS", "enc")
        self.show_devices()
        table.focus()

    def refresh_view(self) -> None:
        self.show_devices()

    def show_devices(self) -> None:
        table = self.query_one("#device-list", DataTable)
        keep = table.cursor_row
        table.clear()
        for d in self.vapp.devices:
            state = "UNREACHABLE" if d.get("error") else "ready"
            table.add_row(
                str(d.get("serial") or "-"),
                state,
                str(d.get("kind") or "?"),
                str(d.get("model") or "?"),
                str(d.get("os") or "?"),
                _yes_no(d.get("encrypted")),
                key=str(d.get("serial")),
            )
        if table.row_count:
            table.move_cursor(row=min(keep, table.row_count - 1))

    # -- actions ---------------------------------------------------------------------
    def action_focus_target(self) -> None:
        self.query_one("#tcp-target", Input).focus()

    def action_focus_browser(self) -> None:
        self.query_one("#browser", DirectoryTree).focus()

    def action_focus_list(self) -> None:
        self.query_one("#device-list", DataTable).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "add-target":
            self._add_target()
        elif event.button.id == "use-path":
            self._use_path()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "tcp-target":
            self._add_target()
        elif event.input.id == "offline-path":
            self._use_path()

    def _add_target(self) -> None:
        box = self.query_one("#tcp-target", Input)
        spec = box.value.strip()
        host, sep, port = spec.rpartition(":")
        if not sep or not host or not port.isdigit():
            self.notify(
                f"{spec or 'empty'}: give HOST:PORT, e.g. 192.168.1.20:5555", severity="error"
            )
            return
        self.vapp.add_target(spec)
        box.value = ""
        self.notify(f"{spec} added; it stays listed and shows when it stops answering.")

    def on_directory_tree_file_selected(self, event: DirectoryTree.FileSelected) -> None:
        self.query_one("#offline-path", Input).value = str(event.path)

    def on_directory_tree_directory_selected(self, event: DirectoryTree.DirectorySelected) -> None:
        self.query_one("#offline-path", Input).value = str(event.path)

    def _use_path(self) -> None:
        from vmforensics.devices import describe_offline

        text = self.query_one("#offline-path", Input).value.strip()
        if not text:
            self.notify("Pick a file or folder, or type its path.", severity="warning")
            return
        row = describe_offline(Path(text).expanduser())
        if row.get("error"):
            self.notify(str(row["error"]), title="Not a source", severity="error", timeout=8)
            return
        self._choose(
            Target(
                spec=text,
                kind=str(row["kind"]),
                offline=True,
                model=row.get("model"),
                os=row.get("os"),
                encrypted=row.get("encrypted"),
                facts=row,
            )
        )

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        if event.data_table.id != "device-list":
            return
        key = event.row_key.value
        found: dict[str, Any] | None = next(
            (d for d in self.vapp.devices if str(d.get("serial")) == key), None
        )
        if found is None:
            return
        if found.get("error"):
            self.notify(f"{key} does not answer: {found['error']}", severity="error", timeout=8)
            return
        kind = "ios-device" if found.get("kind") == "ios" else "android-device"
        self._choose(
            Target(
                spec=str(found["serial"]),
                kind=kind,
                offline=False,
                model=found.get("model"),
                os=found.get("os"),
                encrypted=found.get("encrypted"),
                facts=found,
            )
        )

    def _choose(self, target: Target) -> None:
        self.vapp.target = target
        self.notify(f"Selected {target.spec}")
        self.vapp.switch_mode("acquire")


def _yes_no(value: object) -> str:
    return "yes" if value is True else "no" if value is False else "?"

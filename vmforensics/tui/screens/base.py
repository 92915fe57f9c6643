"""What every screen has: the header, the key bindings in the footer, the shared app."""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer, Header

if TYPE_CHECKING:
    from vmforensics.tui.app import VmfApp


class VmfScreen(Screen[None]):
    TITLE_TEXT = ""

    @property
    def vapp(self) -> VmfApp:
        return cast("VmfApp", self.app)

    def compose(self) -> ComposeResult:
        yield Header(icon="#")
        yield from self.body()
        yield Footer(compact=True)

    def body(self) -> ComposeResult:
        yield from ()

    def on_mount(self) -> None:
        self.title = self.TITLE_TEXT

    def refresh_view(self) -> None:
        """Show the app's current state (the case, the devices, the target) again."""

    def on_screen_resume(self) -> None:
        self.refresh_view()

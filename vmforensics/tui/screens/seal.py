"""Seal: signing key, passphrase, recipients, output folder; seal, then verify each bag
against the signing key (pinned) and show where everything is."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import ClassVar

from textual import work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Input, Label, RichLog

from vmforensics.tui.screens.base import VmfScreen


@dataclass
class SealDone(Message):
    ok: bool
    lines: list[str] = field(default_factory=list)
    error: str | None = None
    reports: list[dict] = field(default_factory=list)
    bags: list[str] = field(default_factory=list)
    packages: list[str] = field(default_factory=list)


def seal_and_verify(
    case_dir: Path, out: Path, key_path: Path, passphrase: str | None, recipients: list[str]
) -> SealDone:
    """The seal command's steps, with errors as messages: load the key, parse the
    recipients, seal every source, verify every bag against the signing key."""
    from chain_of_custody.seal import (
        KeyFileError,
        WrongPassphrase,
        load_key,
        parse_recipients,
        verify_path,
    )
    from chain_of_custody.seal.envelope import RecipientError
    from chain_of_custody.seal.keys import is_encrypted
    from vmforensics.errors import VmfError
    from vmforensics.sealing import seal_case

    try:
        data = key_path.read_bytes()
    except OSError as exc:
        return SealDone(False, error=f"cannot read key {key_path}: {exc.strerror or exc}")
    if is_encrypted(data) and not passphrase:
        return SealDone(False, error=f"key {key_path} is encrypted: type its passphrase")
    try:
        key = load_key(key_path, passphrase if is_encrypted(data) else None)
    except (WrongPassphrase, KeyFileError) as exc:
        return SealDone(False, error=str(exc))
    try:
        parsed = parse_recipients(recipients) if recipients else []
    except RecipientError as exc:
        return SealDone(False, error=str(exc))
    try:
        outcomes = seal_case(case_dir, out, key, recipients=parsed)
    except VmfError as exc:
        return SealDone(False, error=str(exc))
    lines = [f"signed by {key.public.fingerprint}"]
    reports = []
    ok = True
    for o in outcomes:
        report = verify_path(o.bag, key.public, None)
        reports.append(report.to_json())
        ok = ok and report.ok
        lines.append(f"{'VERIFIED' if report.ok else 'FAILED'}: {o.source} bag {o.bag}")
        lines.append(f"    seal {o.seal_id}  payload {o.oxum}  signer pinned")
        for c in report.failures:
            lines.append(f"    FAILED CHECK: {c}")
        if o.package:
            lines.append(f"    package {o.package}  sha256 {o.package_sha256}")
            for r in o.recipients:
                lines.append(f"    recipient {r}")
    lines.append("Each bag's VERIFY.md lists the standard-tool commands that check it.")
    return SealDone(
        ok,
        lines,
        reports=reports,
        bags=[str(o.bag) for o in outcomes],
        packages=[str(o.package) for o in outcomes if o.package],
    )


class SealScreen(VmfScreen):
    TITLE_TEXT = "Seal and export"
    BINDINGS: ClassVar[list[BindingType]] = [Binding("ctrl+r", "seal", "Seal")]

    def __init__(self) -> None:
        super().__init__()
        self.result: SealDone | None = None
        self.running = False

    def body(self) -> ComposeResult:
        with VerticalScroll(id="seal-form"):
            with Horizontal(classes="row"):
                yield Label("Signing key", classes="field-label")
                yield Input(
                    placeholder="examiner key file (vmforensics keygen)", id="key", compact=True
                )
            with Horizontal(classes="row"):
                yield Label("Passphrase", classes="field-label")
                yield Input(
                    placeholder="key passphrase", password=True, id="passphrase", compact=True
                )
            with Horizontal(classes="row"):
                yield Label("Recipients", classes="field-label")
                yield Input(
                    placeholder="age1… or ssh-ed25519 … or a file; comma-separated",
                    id="recipients",
                    compact=True,
                )
            with Horizontal(classes="row"):
                yield Label("Output", classes="field-label")
                yield Input(placeholder="folder for the sealed bags (new)", id="out", compact=True)
            with Horizontal(classes="row"):
                yield Button("Seal and verify", id="seal", variant="primary", compact=True)
        yield Label("Result", classes="section")
        yield RichLog(id="seal-log", markup=False, wrap=True)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "seal":
            self.action_seal()

    def on_input_submitted(self, event: Input.Submitted) -> None:
        if event.input.id == "out":
            self.action_seal()
        else:
            self.focus_next()

    def action_seal(self) -> None:
        case = self.vapp.require_case()
        if case is None or self.running:
            return
        if self.vapp.acquiring:
            self.notify("Wait for the acquisition to finish before sealing.", severity="warning")
            return

        def value(wid: str) -> str:
            return self.query_one(f"#{wid}", Input).value.strip()

        key, out = value("key"), value("out")
        if not key or not out:
            self.notify("Name the signing key and the output folder.", severity="warning")
            return
        recipients = [r.strip() for r in value("recipients").split(",") if r.strip()]
        passphrase = self.query_one("#passphrase", Input).value or None
        self.query_one("#passphrase", Input).value = ""  # the secret does not linger
        self.running = True
        self.query_one("#seal-log", RichLog).write("sealing…")
        self.run_seal(
            case.root, Path(out).expanduser(), Path(key).expanduser(), passphrase, recipients
        )

    @work(thread=True, group="seal", exclusive=True, exit_on_error=False)
    def run_seal(
        self, case_dir: Path, out: Path, key: Path, passphrase: str | None, recipients: list[str]
    ) -> None:
        try:
            done = seal_and_verify(case_dir, out, key, passphrase, recipients)
        except Exception as exc:  # never a traceback
            done = SealDone(False, error=f"{type(exc).__name__}: {exc}")
        self.post_message(done)

    def on_seal_done(self, message: SealDone) -> None:
        self.running = False
        self.result = message
        log = self.query_one("#seal-log", RichLog)
        if message.error:
            log.write(f"NOT SEALED: {message.error}")
            self.notify(message.error, title="Not sealed", severity="error", timeout=10)
            return
        for line in message.lines:
            log.write(line)
        if message.ok:
            self.notify("Sealed and verified.", title="VERIFIED")
        else:
            self.notify("Verification FAILED: see the result pane.", severity="error", timeout=10)

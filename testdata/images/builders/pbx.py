"""A synthetic Asterisk/FreePBX voicemail spool (tar of ``/var/spool`` + ``/etc/asterisk``).

Mailboxes 1001 and 1002 in context ``default``, messages in INBOX/Old/Urgent/Deleted,
each recorded in the three formats of the sample ``format=wav49|gsm|wav``: ``.WAV``
(GSM-in-RIFF, by SoX), ``.gsm`` (raw GSM 06.10, by SoX) and ``.wav`` (16-bit PCM); a
partial recording left in ``1001/tmp/``; greetings; ``voicemail.conf`` with PINs in
cleartext and an ``#include``d secrets file. Durations are multiples of 80 ms so every
WAV49 block is whole. Message files follow ``app_voicemail.c``'s writer field by field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from builders import audio, codecs
from builders.android import write_tar

SPOOL = "var/spool/asterisk/voicemail/default"
ETC = "etc/asterisk"
BASE = 1700000000  # 2023-11-14T22:13:20Z
PINS = {"1001": "4242", "1002": "8675309"}  # only inside the image, never in any output


def versions() -> dict[str, str]:
    return {**audio.versions(), **codecs.versions()}


VERSIONS: dict[str, str] = versions()  # the exact encoder versions this module uses


@dataclass(frozen=True)
class Message:
    mailbox: str
    folder: str
    num: int
    callerid: str
    origtime: int
    seconds: float  # multiple of 0.08
    seed: int
    flag: str = ""

    @property
    def stem(self) -> str:
        return f"msg{self.num:04d}"


MESSAGES = (
    Message("1001", "INBOX", 0, '"Alice Example" <5551230001>', BASE, 1.6, 31),
    Message("1001", "INBOX", 1, "5551230002", BASE + 3600, 0.96, 32),
    Message("1001", "Old", 0, '"Bob" <5551230003>', BASE - 86400, 1.2, 33),
    Message("1001", "Urgent", 0, '"Carol" <5551230004>', BASE + 7200, 0.8, 34, "Urgent"),
    Message("1001", "Deleted", 0, "Unknown", BASE - 2 * 86400, 0.72, 35),
    Message("1002", "INBOX", 0, '"Dave" <5551230005>', BASE + 60, 1.04, 36),
)
PARTIAL_STEM = "Xq7b2R"


def origdate(t: int) -> str:
    """``%a %b %e %r UTC %Y`` as app_voicemail writes it (C locale)."""
    d = datetime.fromtimestamp(t, tz=UTC)
    return d.strftime("%a %b ") + f"{d.day:2d}" + d.strftime(" %I:%M:%S %p UTC %Y")


def msg_txt(m: Message, *, partial: bool = False) -> bytes:
    lines = [
        ";",
        "; Message Information file",
        ";",
        "[message]",
        f"origmailbox={m.mailbox}",
        "context=from-internal",
        "macrocontext=",
        f"exten={m.mailbox}",
        "rdnis=unknown",
        "priority=2",
        f"callerchan=PJSIP/trunk-{m.seed:08x}",
        f"callerid={m.callerid}",
        f"origdate={origdate(m.origtime)}",
        f"origtime={m.origtime}",
        "category=",
        f"msg_id={m.origtime}-{m.seed * 2654435761 % (1 << 32):08x}",
    ]
    if not partial:  # flag and duration are written after the recording ends
        lines += [f"flag={m.flag}", f"duration={round(m.seconds)}"]
    return ("\n".join(lines) + "\n").encode()


def _formats(seconds: float, seed: int) -> dict[str, bytes]:
    pcm = audio.voice_pcm(seconds, seed)
    return {"wav": codecs.pcm_wav(pcm), "WAV": codecs.gsm_wav49(pcm), "gsm": codecs.gsm_raw(pcm)}


def voicemail_conf() -> bytes:
    return f"""; voicemail.conf (synthetic)
[general]
format=wav49|gsm|wav
maxmsg=100
attach=yes

[zonemessages]
eastern=America/New_York|'vm-received' Q 'digits/at' IMp

[default]
1001 => {PINS["1001"]},Alice Owner,alice@example.invalid,,attach=yes|tz=eastern
9000 => ,Lobby Phone,,,  ; no PIN set
#include "voicemail_secrets.conf"
""".encode()


def secrets_conf() -> bytes:
    return f"""; mailboxes managed by the provisioning script
1002 => {PINS["1002"]},Dave Owner,dave@example.invalid
""".encode()


def spool_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    for m in MESSAGES:
        base = f"{SPOOL}/{m.mailbox}/{m.folder}/{m.stem}"
        files[f"{base}.txt"] = msg_txt(m)
        for ext, data in _formats(m.seconds, m.seed).items():
            files[f"{base}.{ext}"] = data
    partial = Message("1001", "tmp", 0, '"Eve" <5551230009>', BASE + 9000, 0.64, 37)
    files[f"{SPOOL}/1001/tmp/{PARTIAL_STEM}"] = msg_txt(partial, partial=True)
    formats = _formats(partial.seconds, partial.seed)
    files[f"{SPOOL}/1001/tmp/{PARTIAL_STEM}.wav"] = formats["wav"]
    files[f"{SPOOL}/1001/tmp/{PARTIAL_STEM}.gsm"] = formats["gsm"]
    files[f"{SPOOL}/1001/unavail.WAV"] = codecs.gsm_wav49(audio.voice_pcm(0.48, 38))
    files[f"{ETC}/voicemail.conf"] = voicemail_conf()
    files[f"{ETC}/voicemail_secrets.conf"] = secrets_conf()
    return files


def build_spool(out: Path) -> None:
    write_tar(out, spool_files(), owner=(999, "asterisk"), dir_owner=(999, "asterisk"))


IMAGES: dict[str, Callable[[Path], None]] = {"asterisk-spool.tar": build_spool}

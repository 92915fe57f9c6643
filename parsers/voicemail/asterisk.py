"""Asterisk / FreePBX voicemail spools: ``msgNNNN.txt`` metadata, raw ``.gsm`` audio,
partial recordings left in ``tmp/``, and mailbox PINs in cleartext configuration.

Layout: ``<spool>/voicemail/<context>/<mailbox>/<Folder>/msgNNNN.txt`` beside one audio
file per configured format (``.wav`` PCM, ``.WAV`` GSM-in-RIFF "WAV49", ``.gsm`` raw
GSM 06.10, ...). The spool root may be anywhere in a source (a tar of ``/var``, a copied
spool folder), so paths are matched by their tail and the context, mailbox and folder
are read from the last components.

Decisions:
- ``received_raw`` is ``origtime`` as stored (Unix seconds); ``origdate`` (the same
  moment as a UTC string) is kept in ``extra`` and used only when ``origtime`` is unusable.
- Partial recordings (``<mailbox>/tmp/XXXXXX`` INI + ``XXXXXX.<fmt>`` audio, left when a
  call drops or Asterisk stops mid-recording) are reported as voicemail records with
  ``extra['partial'] = True`` and a note: they are messages the mailbox owner never saw.
- Raw ``.gsm`` has no magic for the carver to find, so this module reports it as audio.
- ``voicemail.conf`` lines ``mailbox => pin,name,email,...`` (through ``#include`` files
  that exist in the source, loops cut) and per-mailbox ``secret.conf`` give one
  ``pbx-pin-cleartext`` finding per mailbox that has a PIN; the PIN itself is never kept.
"""

from __future__ import annotations

import mmap
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from parsers.audio.carve import identify, to_record
from parsers.base import Context, Item
from parsers.records import AudioRef, FindingRecord, ProblemRecord, VoicemailRecord
from parsers.registry import register
from parsers.timeconv import unix_to_iso

MAX_TEXT = 1 << 20  # metadata and configuration files are small; read no more
MAX_INCLUDE_DEPTH = 16
MAX_CONF_LINES = 200_000
FOLDERS_UNREAD = {"INBOX", "Urgent"}
FOLDERS_READ = {"Old"}
SKIP_SECTIONS = {"general", "zonemessages"}
MSG_NAME = re.compile(r"^msg\d{4}\.txt$")
INI_SIGNATURES = (b";\n; Message Information file", b"[message]")


def _glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def read_text(item: Item) -> str:
    with item.open() as f:
        return f.read(MAX_TEXT).decode("utf-8", "replace")


def parse_ini(text: str) -> dict[str, dict[str, str]]:
    """Sections of an Asterisk-style INI (``key=value`` / ``key => value``), comments dropped."""
    sections: dict[str, dict[str, str]] = {}
    current: dict[str, str] | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith(";"):
            continue
        if line.startswith("[") and "]" in line:
            current = sections.setdefault(line[1 : line.index("]")].strip(), {})
            continue
        if current is None or "=" not in line:
            continue
        key, _, value = line.partition("=")
        current[key.strip()] = value.lstrip(">").strip()
    return sections


_CALLERID = re.compile(r'^\s*"?(?P<name>[^"<]*?)"?\s*<(?P<number>[^>]*)>\s*$')


def split_callerid(value: str | None) -> tuple[str | None, str | None]:
    """(number, name) from ``"Name" <number>``, a bare number, or ``Unknown``."""
    if not value or value.strip().lower() == "unknown":
        return None, None
    m = _CALLERID.match(value)
    if m:
        return (m.group("number").strip() or None), (m.group("name").strip() or None)
    return value.strip(), None


def _int(value: str | None) -> int | None:
    if value is None:
        return None
    value = value.strip()
    return int(value) if re.fullmatch(r"-?\d{1,18}", value) else None


def _origdate_iso(value: str | None) -> str | None:
    """``Tue Nov 14 10:13:20 PM UTC 2023`` (strftime ``%a %b %e %r UTC %Y``) → ISO UTC."""
    if not value:
        return None
    try:
        parsed = datetime.strptime(" ".join(value.split()), "%a %b %d %I:%M:%S %p UTC %Y")
    except ValueError:
        return None
    return parsed.replace(tzinfo=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _audio_siblings(ctx: Context, item: Item, stem: str) -> list[AudioRef]:
    pattern = f"{_glob_escape(item.parent)}/{_glob_escape(stem)}.*"
    refs = []
    for other in ctx.glob(pattern):
        rest = other.path[len(item.parent) + 1 + len(stem) + 1 :]
        if "/" in rest or rest.lower() == "txt":
            continue
        refs.append(AudioRef(other.path))
    return refs


def _message_record(
    item: Item, ctx: Context, message: dict[str, str], stem: str, partial: bool
) -> VoicemailRecord:
    parts = item.path.split("/")
    folder = parts[-2] if len(parts) >= 2 else ""
    mailbox = parts[-3] if len(parts) >= 3 else None
    context = parts[-4] if len(parts) >= 4 else None
    number, name = split_callerid(message.get("callerid"))
    origtime = _int(message.get("origtime"))
    received = unix_to_iso(origtime) if origtime is not None else None
    raw: Any = origtime if origtime is not None else message.get("origtime")
    if received is None and message.get("origdate"):
        received = _origdate_iso(message.get("origdate"))
        raw = message.get("origdate") if received else raw
    duration = _int(message.get("duration"))
    extra: dict[str, Any] = dict(message)
    extra.update({"folder": folder, "mailbox": mailbox, "context": context})
    if name:
        extra["caller_name"] = name
    if partial:
        extra["partial"] = True
        extra["note"] = (
            "recording staged in the mailbox's tmp/ folder and never filed: the call "
            "dropped or Asterisk stopped while recording; the owner never saw it"
        )
    if folder in FOLDERS_UNREAD and not partial:
        read: bool | None = False
    elif folder in FOLDERS_READ:
        read = True
    else:
        read = None
    return VoicemailRecord(
        path=item.path,
        platform="asterisk",
        caller=number,
        callee=message.get("origmailbox") or mailbox,
        received_utc=received,
        received_raw=raw,
        duration_s=float(duration) if duration is not None and duration >= 0 else None,
        transcript=None,
        deleted=folder == "Deleted",
        read=read,
        audio_refs=_audio_siblings(ctx, item, stem),
        extra=extra,
    )


@register("asterisk-message", patterns=("*msg[0-9][0-9][0-9][0-9].txt",))
def parse_message(item: Item, ctx: Context) -> Iterator[object]:
    try:
        text = read_text(item)
    except OSError as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    message = parse_ini(text).get("message")
    if message is None or not any(k in message for k in ("origtime", "callerid", "duration")):
        if message is not None and set(message) <= {"flag"}:
            return  # Asterisk's "; just a stub" placeholder for a new folder
        yield ProblemRecord(
            item.path, "parse", "not an Asterisk message file: no [message] section with data"
        )
        return
    yield _message_record(item, ctx, message, item.name[: -len(".txt")], partial=False)


@register("asterisk-partial", patterns=("*/tmp/*",), signatures=INI_SIGNATURES)
def parse_partial(item: Item, ctx: Context) -> Iterator[object]:
    try:
        message = parse_ini(read_text(item)).get("message")
    except OSError as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    if not message:
        return
    stem = item.name[: -len(".txt")] if item.name.endswith(".txt") else item.name
    yield _message_record(item, ctx, message, stem, partial=True)


@register("raw-gsm", patterns=("*.gsm",))
def parse_gsm(item: Item, ctx: Context) -> Iterator[object]:
    """Raw GSM 06.10 (``.gsm``): no magic to carve by, so identified here by extension."""
    if item.size == 0:
        return
    try:
        with item.open() as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
            hit = identify(mm, assume="gsm")  # type: ignore[arg-type]
    except (OSError, ValueError) as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    if hit is None:
        yield ProblemRecord(
            item.path, "parse", "named .gsm but does not start with GSM 06.10 frames", offset=0
        )
        return
    yield to_record(hit, item.path)


# --- mailbox PINs ------------------------------------------------------------------------

_INCLUDE = re.compile(r'^#\s*(try)?include\s+["<]?([^"<>]+?)[">]?\s*$')


def _strip_comment(line: str) -> str:
    out = []
    i = 0
    while i < len(line):
        if line[i] == "\\" and i + 1 < len(line) and line[i + 1] == ";":
            out.append(";")
            i += 2
            continue
        if line[i] == ";":
            break
        out.append(line[i])
        i += 1
    return "".join(out).strip()


def _resolve_include(ctx: Context, item: Item, target: str) -> list[Item]:
    """Evidence files an ``#include`` names: relative to the including file's folder (the
    config dir), absolute paths under the same source root, globs expanded."""
    target = target.strip()
    candidates: list[str] = []
    if target.startswith("/"):
        tail = target.lstrip("/")
        at = item.path.find("etc/asterisk/")
        root = item.path[:at] if at >= 0 else ""
        candidates.append(root + tail)
        candidates.append(f"{item.parent}/{tail.rsplit('/', 1)[-1]}" if item.parent else tail)
    else:
        candidates.append(f"{item.parent}/{target}" if item.parent else target)
    found: list[Item] = []
    for cand in candidates:
        if any(c in cand for c in "*?["):
            found.extend(ctx.glob(cand))
        else:
            hit = ctx.get(cand)
            if hit is not None:
                found.append(hit)
        if found:
            break
    return found


def _conf_findings(
    item: Item, ctx: Context, section: list[str], chain: list[str], budget: list[int]
) -> Iterator[object]:
    if len(chain) > MAX_INCLUDE_DEPTH:
        yield ProblemRecord(item.path, "parse", f"#include nesting deeper than {MAX_INCLUDE_DEPTH}")
        return
    try:
        with item.open() as f:
            data = f.read(MAX_TEXT)
    except OSError as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    offset = 0
    for number, raw in enumerate(data.split(b"\n"), start=1):
        line_offset = offset
        offset += len(raw) + 1
        budget[0] -= 1
        if budget[0] < 0:
            yield ProblemRecord(item.path, "parse", "too many configuration lines", line_offset)
            return
        text = raw.decode("utf-8", "replace").strip()
        inc = _INCLUDE.match(text)
        if inc:
            for target in _resolve_include(ctx, item, inc.group(2)):
                if target.path in chain:
                    yield ProblemRecord(
                        item.path,
                        "parse",
                        f"#include loop: {target.path} includes itself (line {number})",
                        line_offset,
                    )
                    continue
                yield from _conf_findings(target, ctx, section, [*chain, target.path], budget)
            continue
        line = _strip_comment(text)
        if not line:
            continue
        if line.startswith("[") and "]" in line:
            section[0] = line[1 : line.index("]")].strip()
            continue
        if section[0].lower() in SKIP_SECTIONS or section[0] == "" or "=" not in line:
            continue
        key, _, value = line.partition("=")
        mailbox = key.strip()
        pin = value.lstrip(">").split(",", 1)[0].strip()
        if not mailbox or not pin.lstrip("-"):
            continue
        yield _pin_finding(item, section[0], mailbox, number, line_offset, chain)


def _pin_finding(
    item: Item, context: str, mailbox: str, line: int, offset: int, chain: list[str]
) -> FindingRecord:
    via = f" (included from {' → '.join(chain[:-1])})" if len(chain) > 1 else ""
    return FindingRecord(
        path=item.path,
        code="pbx-pin-cleartext",
        title="PBX mailbox PIN in cleartext",
        detail=(
            f"the voicemail PIN of mailbox {mailbox} (context {context}) is stored in "
            f"cleartext in {item.path} line {line}{via}; anyone who reads the file can "
            "listen to the mailbox"
        ),
        severity="medium",
        locator=f"conf:context={context},mailbox={mailbox}",
        offset=offset,
        key_path=item.path,
        extra={"context": context, "mailbox": mailbox, "line": line, "include_chain": chain},
    )


@register("asterisk-voicemail-conf", patterns=("*voicemail.conf",))
def parse_voicemail_conf(item: Item, ctx: Context) -> Iterator[object]:
    yield from _conf_findings(item, ctx, [""], [item.path], [MAX_CONF_LINES])


@register("asterisk-secret-conf", patterns=("*/secret.conf", "secret.conf"))
def parse_secret_conf(item: Item, ctx: Context) -> Iterator[object]:
    """``<context>/<mailbox>/secret.conf`` (``passwordlocation=spooldir``): ``password=``."""
    try:
        text = read_text(item)
    except OSError as exc:
        yield ProblemRecord(item.path, "parse", f"cannot read: {exc}")
        return
    offset = 0
    parts = item.path.split("/")
    mailbox = parts[-2] if len(parts) >= 2 else "?"
    context = parts[-3] if len(parts) >= 3 else "?"
    for number, raw in enumerate(text.split("\n"), start=1):
        line_offset = offset
        offset += len(raw.encode("utf-8", "replace")) + 1
        line = _strip_comment(raw)
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "password" and value.lstrip(">").strip().lstrip("-"):
            yield _pin_finding(item, context, mailbox, number, line_offset, [item.path])
            return

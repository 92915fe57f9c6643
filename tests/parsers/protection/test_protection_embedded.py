"""Base64 audio inside larger texts: cached MIME messages (a visual-voicemail IMAP
attachment), HTML data: URIs, and a database cell holding a whole message."""

from __future__ import annotations

import base64
import sqlite3
from email.message import EmailMessage

from prot_helpers import audio_records, run, sample, sha


def mime(*attachments: tuple[bytes, str, str]) -> bytes:
    msg = EmailMessage()
    msg["From"] = "vvm@example.net"
    msg["Subject"] = "voice mail"
    msg.set_content("You have a new voice message.")
    for data, sub, name in attachments:
        msg.add_attachment(data, maintype="audio", subtype=sub, filename=name)
    return msg.as_bytes().replace(b"\n", b"\r\n")


def test_mime_attachment_in_cached_message(tmp_path):
    amr = sample("amr", seconds=3.0)
    stored = mime((amr, "amr", "vm.amr"))
    [rec] = audio_records(
        run(tmp_path, {"data/data/com.example.vvmcache/cache/imap/1.eml": stored})
    )
    assert (rec.protection, rec.method, rec.sha256, rec.decodes) == (
        "encoded",
        "base64",
        sha(amr),
        True,
    )
    body = stored[rec.offset : rec.offset + rec.length]
    assert base64.b64decode(body) == amr  # the offsets name exactly the encoded run
    assert rec.locator is None


def test_data_uri_in_html_page(tmp_path):
    mp3 = sample("mp3")
    page = (
        b'<html><body><p>Voicemail</p><audio controls src="data:audio/mpeg;base64,'
        + base64.b64encode(mp3)
        + b'"></audio><p>end</p></body></html>'
    )
    recs = audio_records(run(tmp_path, {"sdcard/Download/vm.html": page}))
    assert [(r.method, r.sha256) for r in recs] == [("base64", sha(mp3))]


def test_two_attachments_in_a_sqlite_cell(tmp_path):
    amr, opus = sample("amr", seed=2), sample("opus", seed=3)
    message = mime((amr, "amr", "a.amr"), (opus, "ogg", "b.opus")).decode()
    db = tmp_path / "mail.db"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE messages (id INTEGER PRIMARY KEY, raw TEXT)")
    conn.execute("INSERT INTO messages VALUES (5, ?)", (message,))
    conn.commit()
    conn.close()
    recs = audio_records(
        run(tmp_path, {"data/data/com.example.mail/databases/mail.db": db.read_bytes()})
    )
    assert sorted(r.sha256 for r in recs) == sorted([sha(amr), sha(opus)])
    assert {r.locator for r in recs} == {"sqlite:table=messages,rowid=5,column=raw"}
    first, second = sorted(recs, key=lambda r: r.offset)
    assert first.offset < second.offset  # distinct places inside the cell
    assert base64.b64decode(message[first.offset : first.offset + first.length]) == amr

"""Header-less AMR, raw GSM, multichannel AMR, lying sizes, corpus edge cases, records."""

from __future__ import annotations

import hashlib
import random
import shutil
import struct
import subprocess
from pathlib import Path

import audio_carve_samples as samples
import pytest

from parsers.audio import amr, carve
from parsers.records import AudioRecord


def junk(n: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(n)


def test_headerless_amr_run_found_exactly() -> None:
    data = samples.make("amr-nb")
    frames = data[len(amr.MAGIC_NB) :]
    blob = junk(1001, 1) + frames + junk(333, 2)
    assert not any(h.decodes for h in carve.carve(blob))  # no magic: the normal carve cannot
    hits = carve.headerless_amr(blob, wide=False)
    assert [(h.offset, h.length, h.container, h.codec) for h in hits] == [
        (1001, len(frames), "raw", "amr-nb")
    ]
    assert hits[0].sha256 == hashlib.sha256(frames).hexdigest()  # as stored, no magic added
    assert hits[0].decodes and hits[0].duration_s == pytest.approx(1.52, abs=0.05)


def test_headerless_amr_wb_from_corpus() -> None:
    path = samples.corpus_file("exoplayer/sample_wb.amr")
    if path is None:
        pytest.skip("corpus file exoplayer/sample_wb.amr is absent")
    frames = path.read_bytes()[len(amr.MAGIC_WB) :]
    hits = carve.headerless_amr(junk(77, 3) + frames + junk(50, 4))
    assert [(h.offset, h.length, h.codec) for h in hits] == [(77, len(frames), "amr-wb")]
    assert hits[0].decodes


def test_headerless_amr_ignores_short_runs_and_junk() -> None:
    data = samples.make("amr-nb")
    size = amr.NB_SIZES[(data[len(amr.MAGIC_NB)] >> 3) & 15]
    frames = data[len(amr.MAGIC_NB) : len(amr.MAGIC_NB) + 10 * size]
    assert carve.headerless_amr(junk(2000, 5) + frames + junk(2000, 6), min_frames=25) == []
    assert carve.headerless_amr(junk(1 << 16, 7)) == []


def test_att_parts_concatenate_into_one_stream() -> None:
    # AT&T's app appends later parts without their magic: one stream, carved whole.
    part1, part2 = samples.make("amr-nb"), samples.make("amr-nb", 0.8)
    stream = part1 + part2[len(amr.MAGIC_NB) :]
    hits = carve.carve(junk(10, 8) + stream + junk(10, 9))
    assert [(h.offset, h.length) for h in hits if h.decodes] == [(10, len(stream))]


def test_amr_walk_stops_at_mode_change_but_not_at_sid_or_no_data() -> None:
    nb = amr.MAGIC_NB
    f7 = bytes([0x3C]) + bytes(31)  # 12.2 kbit/s speech
    sid = bytes([0x44]) + bytes(5)  # FT 8
    nodata = bytes([0x7C])
    f0 = bytes([0x04]) + bytes(12)  # 4.75 kbit/s: a mode change
    data = nb + f7 * 6 + sid + nodata * 3 + f7 * 2
    assert carve.identify(data + f0 * 5, decode=False).length == len(data)
    assert carve.identify(data + bytes([0x38]) + bytes(31), decode=False).length == len(data)  # Q=0
    assert carve.identify(data + bytes([0x4C]), decode=False).length == len(data)  # FT 9


def test_multichannel_amr_is_recognised() -> None:
    channels = 2
    header = amr.MAGIC_NB_MC + struct.pack(">I", channels)
    frame = bytes([0x3C]) + bytes(31)
    data = header + frame * channels * 10
    hit = carve.identify(data + b"\x01\x02")
    assert hit is not None and hit.length == len(data)
    assert hit.extra["multichannel"] and hit.extra["channels"] == channels
    assert not hit.decodes  # FFmpeg has no multichannel AMR demuxer


def _gsm(tmp_path: Path) -> bytes:
    if shutil.which("sox") is None:
        pytest.skip("sox is not installed")
    out = tmp_path / "x.gsm"
    cmd = ["sox", "-n", "-r", "8000", "-c", "1", str(out), "synth", "1.5", "sine", "300"]
    subprocess.run(cmd, check=True, capture_output=True)
    return out.read_bytes()


def test_raw_gsm_only_when_asked(tmp_path: Path) -> None:
    data = _gsm(tmp_path)
    assert len(data) % 33 == 0
    assert carve.identify(data) is None  # no magic: never guessed
    hit = carve.identify(data, assume="gsm")
    assert hit is not None and (hit.length, hit.container, hit.codec) == (len(data), "gsm", "gsm")
    assert hit.decodes and hit.duration_s == pytest.approx(1.5, abs=0.03)
    blob = b"\0" * 99 + data + b"\0" * 10
    hits = carve.raw_gsm(blob)
    assert [(h.offset, h.length) for h in hits] == [(99, len(data))]


def test_riff_size_that_lies_does_not_swallow_what_follows() -> None:
    data = bytearray(samples.make("wav-mulaw"))
    struct.pack_into("<I", data, 4, 50_000_000)  # RIFF size far past the data
    tail = b"\x00\x01" * 3000
    hits = carve.carve(bytes(data) + tail)
    assert hits[0].length == len(data) and not hits[0].truncated
    assert hits[0].extra["declared_length"] == 50_000_008


def test_riff_size_that_lies_at_end_of_data_is_truncated() -> None:
    data = bytearray(samples.make("wav-mulaw"))
    struct.pack_into("<I", data, 4, 50_000_000)
    hit = carve.identify(bytes(data))
    assert hit is not None and hit.truncated and hit.length == len(data)


@pytest.mark.parametrize(
    ("name", "expect"),
    [
        ("file-type/fixture.3g2", ("3gp", True, False)),  # a 12-byte ftyp stub
        ("tinytag/test.m4a", ("mp4", True, False)),  # moov points past the end
        ("tinytag/no_audio_data_uncompressed.wav", ("wav", False, False)),
    ],
)
def test_corpus_edge_cases(name: str, expect: tuple[str, bool, bool]) -> None:
    path = samples.corpus_file(name)
    if path is None:
        pytest.skip(f"corpus file {name} is absent")
    data = path.read_bytes()
    hit = carve.identify(data)
    assert hit is not None
    assert (hit.container, hit.truncated, hit.decodes) == expect
    assert hit.length == len(data)


@pytest.mark.parametrize("name", ["tinytag/empty_file.wav", "tinytag/invalid_file.wav"])
def test_corpus_non_audio(name: str) -> None:
    path = samples.corpus_file(name)
    if path is None:
        pytest.skip(f"corpus file {name} is absent")
    assert carve.identify(path.read_bytes()) is None
    assert carve.carve(path.read_bytes()) == []


def test_to_record() -> None:
    data = samples.make("opus-ogg")
    hit = carve.carve(b"x" * 5 + data, base=1000)[0]
    rec = carve.to_record(hit, "data/blob.bin", locator="sqlite:table=t,rowid=1", package="a.b")
    assert isinstance(rec, AudioRecord)
    assert (rec.offset, rec.length, rec.size) == (1005, len(data), len(data))
    assert (rec.container, rec.codec, rec.decodes, rec.truncated) == ("ogg", "opus", True, False)
    assert rec.sha256 == hashlib.sha256(data).hexdigest()
    assert (rec.locator, rec.package, rec.protection) == ("sqlite:table=t,rowid=1", "a.b", "none")


def test_ffmpeg_logs_nothing_to_stderr(capfd: pytest.CaptureFixture[str]) -> None:
    broken = []
    for name in ["mp3", "aac-m4a", "amr-nb", "opus-ogg", "flac"]:
        data = bytearray(samples.make(name))
        for i in range(len(data) // 3, len(data), 97):
            data[i] ^= 0x5A  # corrupt the payload, keep the structure
        broken.append(bytes(data))
    for blob in broken:
        carve.carve(blob)
    out, err = capfd.readouterr()
    assert err == "" and out == ""


def _next_objects(blob: bytes, first: int) -> list[tuple[int, int]]:
    return [(h.offset, h.length) for h in carve.carve(blob) if h.decodes and h.offset > first]


@pytest.mark.parametrize("name", ["wav-pcm", "aiff", "caf", "aac-m4a"])
def test_a_lying_size_does_not_hide_the_objects_after_it(name: str) -> None:
    data = bytearray(samples.make(name))
    if name == "wav-pcm":
        i = data.index(b"data")
        struct.pack_into("<I", data, i + 4, 0x7FFFFFF0)  # data chunk size past everything
        struct.pack_into("<I", data, 4, 0x7FFFFFF0)  # and the RIFF size too
    elif name == "aiff":
        i = data.index(b"SSND")
        struct.pack_into(">I", data, i + 4, 0x7FFFFFF0)
        struct.pack_into(">I", data, 4, 0x7FFFFFF0)
    elif name == "caf":
        i = data.index(b"data")
        struct.pack_into(">q", data, i + 4, 1 << 40)
    else:
        i = data.index(b"mdat") - 4
        struct.pack_into(">I", data, i, 0x7FFFFFF0)
    follower = samples.make("amr-nb")
    blob = bytes(data) + junk(100, 11) + follower + junk(50, 12)
    first = carve.carve(blob)[0]
    assert first.offset == 0 and first.truncated
    assert first.extra.get("cut_at_next_object")
    start = len(data) + 100
    assert first.length == start  # cut where the next object begins
    assert _next_objects(blob, 0) == [(start, len(follower))]


def test_riff_size_right_data_size_wrong_is_carved_exactly() -> None:
    data = bytearray(samples.make("wav-pcm"))
    i = data.index(b"data")
    struct.pack_into("<I", data, i + 4, 0x7FFFFFF0)
    blob = bytes(data) + junk(100, 13)
    hit = carve.carve(blob)[0]
    assert (hit.offset, hit.length, hit.truncated) == (0, len(data), False)


def _id3v2(title: bytes) -> bytes:
    frame = b"TIT2" + struct.pack(">I", len(title) + 1) + b"\0\0" + b"\0" + title
    size = len(frame) + 10  # with some padding
    synchsafe = bytes([(size >> 21) & 0x7F, (size >> 14) & 0x7F, (size >> 7) & 0x7F, size & 0x7F])
    return b"ID3\x03\x00\x00" + synchsafe + frame + bytes(10)


def test_flac_with_an_id3v2_tag_in_front() -> None:
    data = _id3v2(b"voicemail") + samples.make("flac")
    hits = carve.carve(junk(21, 14) + data + junk(21, 15))
    assert [(h.offset, h.length, h.container, h.decodes) for h in hits] == [
        (21, len(data), "flac", True)
    ]


def test_tagless_mp3_files_back_to_back_split_at_their_info_frames() -> None:
    data = samples.make("mp3-8k")
    s = data[6:10]
    tag = 10 + (s[0] << 21 | s[1] << 14 | s[2] << 7 | s[3]) if data.startswith(b"ID3") else 0
    bare = data[tag:]
    assert bare[:2] == b"\xff\xe3"  # MPEG-2.5, 8 kHz
    hits = carve.carve(bare * 3)
    assert [(h.offset, h.length, h.decodes) for h in hits] == [
        (i * len(bare), len(bare), True) for i in range(3)
    ]


def test_long_objects_decode_up_to_a_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    from parsers.audio import decode

    data = samples.make("amr-nb")
    full = decode.check(data, "amr")
    assert full.decodes and full.complete and full.duration_s == pytest.approx(1.52)
    part = decode.check(data, "amr", max_seconds=0.5)
    assert part.decodes and not part.complete and 0.5 <= part.duration_s < 1.0
    monkeypatch.setattr(decode, "MAX_DECODE_SECONDS", 0.5)
    hit = carve.identify(data)
    assert hit is not None and hit.decodes and hit.length == len(data)
    assert hit.duration_s is None and 0.5 <= hit.extra["decode_checked_s"] < 1.0


def test_amr_junk_that_looks_like_one_more_frame_is_left_out() -> None:
    f7 = bytes([0x3C]) + bytes(30) + b"\x10"  # 12.2 kbit/s, padding (low 4 bits) zero
    data = amr.MAGIC_NB + f7 * 20
    bad_pad = bytes([0x3C]) + bytes(30) + b"\x01"  # same mode, non-zero padding: junk
    assert carve.identify(data + bad_pad + b"\xff", decode=False).length == len(data)
    lone = bytes([0x7C])  # one NO_DATA byte straight after speech, then junk
    assert carve.identify(data + lone + b"\xff", decode=False).length == len(data)
    pause = bytes([0x44]) + bytes(5) + bytes([0x7C]) * 7  # a real DTX pause is kept
    assert carve.identify(data + pause + b"\xff", decode=False).length == len(data + pause)
    # a stream whose encoder does not zero its padding is not cut by that rule
    odd = amr.MAGIC_NB + bad_pad * 20
    assert carve.identify(odd + bad_pad + b"\xff", decode=False).length == len(odd + bad_pad)


def test_amr_followed_by_random_junk_is_rarely_over_long() -> None:
    data = samples.make("amr-nb")  # 4.75 kbit/s: one padding bit, the weakest case
    over = sum(
        carve.identify(data + junk(16, 1000 + i), decode=False).length != len(data)
        for i in range(2000)
    )
    assert over <= 20  # about 1 in 512 (same mode and a zero padding bit by chance)


def _ogg_page(flags: int, serial: int, seq: int, payload: bytes, granule: int = 0) -> bytes:
    from parsers.audio import ogg

    lacing = bytes([255] * (len(payload) // 255) + [len(payload) % 255])
    head = b"OggS\0" + struct.pack("<BqIII", flags, granule, serial, seq, 0)
    page = bytearray(head + bytes([len(lacing)]) + lacing + payload)
    struct.pack_into("<I", page, 22, ogg.ogg_crc(bytes(page)))
    return bytes(page)


def test_ogg_speex_is_identified_and_walked_to_eos() -> None:
    fields = struct.pack("<13i", 1, 80, 8000, 0, 4, 1, -1, 160, 0, 1, 0, 0, 0)
    speex = b"Speex   " + b"1.2".ljust(20, b"\0") + fields  # an 80-byte Speex header
    pages = _ogg_page(2, 77, 0, speex) + _ogg_page(0, 77, 1, b"\x05vendor")
    pages += _ogg_page(4, 77, 2, bytes(range(100)), granule=160)
    hit = carve.carve(junk(9, 16) + pages + junk(9, 17))[0]
    assert (hit.offset, hit.length, hit.container, hit.codec) == (9, len(pages), "ogg", None)
    assert hit.extra["codec_name"] == "speex" and hit.extra["pages"] == 3


def test_ogg_page_with_a_bad_crc_ends_the_stream() -> None:
    data = bytearray(samples.make("opus-ogg"))
    first = 27 + data[26] + sum(data[27 : 27 + data[26]])
    second = first + 27 + data[first + 26] + sum(data[first + 27 : first + 27 + data[first + 26]])
    data[second - 1] ^= 0xFF  # corrupt the second page's payload
    hit = carve.identify(bytes(data))
    assert hit is not None and hit.length == first
    assert hit.truncated and hit.extra["missing_eos"] and not hit.decodes


def _noisy_flac(seed: int, rate: int = 16000) -> bytes:
    import io

    import av

    rng = random.Random(seed)
    n = int(rate * rng.uniform(0.5, 2.0))
    silence = bytes(2 * 4096)  # one silent block makes STREAMINFO's minimum frame tiny
    pcm = silence + bytes(rng.getrandbits(8) if i % 2 else rng.getrandbits(4) for i in range(2 * n))
    out = io.BytesIO()
    with av.open(out, "w", format="flac") as c:
        s = c.add_stream("flac", rate=rate, layout="mono")
        frame = av.AudioFrame(format="s16", layout="mono", samples=len(pcm) // 2)
        frame.planes[0].update(pcm)
        frame.sample_rate, frame.pts = rate, 0
        for packet in [*s.encode(frame), *s.encode(None)]:
            c.mux(packet)
    return out.getvalue()


def test_flac_last_frame_with_a_chance_crc_match_inside(monkeypatch: pytest.MonkeyPatch) -> None:
    from parsers.audio import flac

    seen: list[list[int]] = []
    real = flac._crc16_ends

    def spy(buf, p, start, stop):  # type: ignore[no-untyped-def]
        ends = real(buf, p, start, stop)
        seen.append([e - p for e in ends])
        return ends

    monkeypatch.setattr(flac, "_crc16_ends", spy)
    chance = 0
    for seed in (3, 32, 200):  # inputs whose last frame has a CRC-16 zero before its end
        data = _noisy_flac(seed)
        seen.clear()
        hit = carve.identify(data + junk(10, seed), decode=False)
        assert hit is not None and hit.length == len(data), seed
        chance += any(len(e) > 1 for e in seen)
    if not chance:
        pytest.skip("this FFmpeg's FLAC encoder no longer produces the chance CRC match")


def test_a_failing_probe_is_reported_with_its_offset(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(buf, pos):  # type: ignore[no-untyped-def]
        raise ValueError("boom")

    sigs = [
        carve._Signature(s.pattern, s.size, s.delta, broken if s.probe is amr.probe else s.probe)
        for s in carve.SIGNATURES
    ]
    monkeypatch.setattr(carve, "SIGNATURES", tuple(sigs))
    monkeypatch.setattr(carve, "_HS_LOCAL", __import__("threading").local())
    problems: list[tuple[int, str]] = []
    data = b"xyz" + samples.make("amr-nb") + samples.make("wav-pcm")
    hits = carve.carve(data, base=100, problems=problems)
    assert [h.container for h in hits] == ["wav"]  # the scan went on
    assert problems == [(103, f"{broken.__module__}: ValueError('boom')")]

"""Native FLAC: ``fLaC``, metadata blocks, then frames (no total length field).

Frames are chained by their headers (sync, CRC-8, frame or sample number in sequence);
the last frame ends where its CRC-16 footer checks, searched no further than STREAMINFO's
maximum frame size. STREAMINFO's total sample count says which frame is last and whether
the stream stops early (truncated).
"""

from __future__ import annotations

from construct import BitsInteger, BitStruct, Bytes, Flag, Struct

from parsers.audio.probe import Buffer, Probe

SIGNATURES = (b"fLaC",)

BLOCK_HEADER = BitStruct("last" / Flag, "type" / BitsInteger(7), "length" / BitsInteger(24))
STREAMINFO = Struct(
    "bits"
    / BitStruct(
        "min_block" / BitsInteger(16),
        "max_block" / BitsInteger(16),
        "min_frame" / BitsInteger(24),
        "max_frame" / BitsInteger(24),
        "sample_rate" / BitsInteger(20),
        "channels_minus1" / BitsInteger(3),
        "bps_minus1" / BitsInteger(5),
        "total_samples" / BitsInteger(36),
    ),
    "md5" / Bytes(16),
)

_CRC8 = []
for _i in range(256):
    _c = _i
    for _ in range(8):
        _c = ((_c << 1) ^ 0x07) & 0xFF if _c & 0x80 else (_c << 1) & 0xFF
    _CRC8.append(_c)
_CRC16 = []
for _i in range(256):
    _c = _i << 8
    for _ in range(8):
        _c = ((_c << 1) ^ 0x8005) & 0xFFFF if _c & 0x8000 else (_c << 1) & 0xFFFF
    _CRC16.append(_c)
_BLOCK_SIZES = {
    1: 192,
    **{i: 576 << (i - 2) for i in range(2, 6)},
    **{i: 256 << (i - 8) for i in range(8, 16)},
}
NO_LIMIT_FRAME = 1 << 20  # when STREAMINFO gives no maximum frame size
MAX_FRAME_SEARCH = 1 << 20  # never search further than this for a frame's end (hostile sizes)


def crc8(data: bytes) -> int:
    c = 0
    for b in data:
        c = _CRC8[c ^ b]
    return c


def _utf8_number(buf: Buffer, p: int, n: int) -> tuple[int, int] | None:
    if p >= n:
        return None
    b = buf[p]
    if b < 0x80:
        return b, 1
    length = 0
    mask = 0x80
    while b & mask and length < 7:
        length += 1
        mask >>= 1
    if length < 2 or p + length > n:
        return None
    value = b & (mask - 1)
    for i in range(1, length):
        c = buf[p + i]
        if c & 0xC0 != 0x80:
            return None
        value = (value << 6) | (c & 0x3F)
    return value, length


def frame_header(buf: Buffer, p: int, streaminfo_block: int) -> tuple[int, int, int, bool] | None:
    """(header length, block size in samples, number, variable) of a frame header at ``p``."""
    n = len(buf)
    if p + 6 > n or buf[p] != 0xFF or buf[p + 1] & 0xFE != 0xF8:
        return None
    variable = bool(buf[p + 1] & 1)
    bs_code, sr_code = buf[p + 2] >> 4, buf[p + 2] & 0x0F
    ch, ss, res = buf[p + 3] >> 4, (buf[p + 3] >> 1) & 7, buf[p + 3] & 1
    if bs_code == 0 or sr_code == 15 or ch > 10 or ss in (3,) or res:
        return None
    num = _utf8_number(buf, p + 4, n)
    if num is None:
        return None
    q = p + 4 + num[1]
    if bs_code == 6:
        if q + 1 > n:
            return None
        block = buf[q] + 1
        q += 1
    elif bs_code == 7:
        if q + 2 > n:
            return None
        block = (buf[q] << 8 | buf[q + 1]) + 1
        q += 2
    else:
        block = _BLOCK_SIZES.get(bs_code, streaminfo_block)
    if sr_code == 12:
        q += 1
    elif sr_code in (13, 14):
        q += 2
    if q + 1 > n or crc8(bytes(buf[p:q])) != buf[q]:
        return None
    return q + 1 - p, block, num[0], variable


def _crc16_ends(buf: Buffer, p: int, start: int, stop: int) -> list[int]:
    """Every position e in [start, stop] where the CRC-16 of buf[p:e] is zero."""
    c = 0
    ends = []
    data = bytes(buf[p:stop])
    for i, b in enumerate(data):
        c = ((c << 8) & 0xFFFF) ^ _CRC16[(c >> 8) ^ b]
        if c == 0 and p + i + 1 >= start:
            ends.append(p + i + 1)
    return ends


def _frame_decodes(streaminfo: bytes, frame: bytes, block: int) -> bool:
    """Whether FFmpeg decodes ``frame`` alone into ``block`` samples.

    A frame cut short (at a CRC-16 that is zero by chance inside it) makes the decoder
    read past its end, which FFmpeg refuses ("overread").
    """
    try:
        import av

        ctx = av.CodecContext.create("flac", "r")
        ctx.extradata = streaminfo
        return sum(f.samples for f in ctx.decode(av.Packet(frame))) == block
    except Exception:
        return False


def _last_frame_end(
    buf: Buffer, p: int, start: int, stop: int, streaminfo: bytes, block: int
) -> int | None:
    """Where the frame at ``p`` ends, when no next frame header says so.

    The CRC-16 footer checks at the true end, and also, about once in 65536 bytes, by
    chance inside the frame: when it checks at several places, the first one at which
    the frame decodes alone is the end.
    """
    ends = _crc16_ends(buf, p, start, stop)
    if len(ends) > 1:
        for e in ends:
            if _frame_decodes(streaminfo, bytes(buf[p:e]), block):
                return e
    return ends[0] if ends else None


def probe(buf: Buffer, pos: int) -> Probe | None:
    n = len(buf)
    p = pos + 4
    if p + 4 > n:
        return None
    first = BLOCK_HEADER.parse(bytes(buf[p : p + 4]))
    if first.type != 0 or first.length != 34:
        return None
    if p + 4 + 34 > n:
        return Probe(n - pos, "flac", "flac", True, False, "flac", {})
    streaminfo = bytes(buf[p + 4 : p + 38])
    si = STREAMINFO.parse(streaminfo).bits
    if si.sample_rate == 0 or si.min_block < 16 or si.max_block < si.min_block:
        return None
    extra = {
        "sample_rate": si.sample_rate,
        "channels": si.channels_minus1 + 1,
        "total_samples": si.total_samples,
    }
    last = first.last
    p += 38
    while not last:
        if p + 4 > n:
            return Probe(n - pos, "flac", "flac", True, False, "flac", extra)
        h = BLOCK_HEADER.parse(bytes(buf[p : p + 4]))
        if h.type == 127 or h.type == 0:
            return None
        last = h.last
        p += 4 + h.length
        if p > n:
            return Probe(n - pos, "flac", "flac", True, False, "flac", extra)
    max_frame = min(si.max_frame or NO_LIMIT_FRAME, MAX_FRAME_SEARCH)
    min_frame = si.min_frame or 1
    total = si.total_samples
    samples = frames = 0
    truncated = False
    expected_num = 0
    while True:
        hdr = frame_header(buf, p, si.max_block)
        if hdr is None or hdr[2] != (samples if hdr[3] else expected_num):
            truncated = bool(total) and samples < total
            break
        hlen, block, _num, _var = hdr
        is_last = bool(total) and samples + block >= total
        nxt = None
        if not is_last:
            window_end = min(n, p + max_frame + 16)
            window = bytes(buf[p:window_end])
            want = samples + block if hdr[3] else expected_num + 1
            sync = b"\xff\xf9" if hdr[3] else b"\xff\xf8"
            i = window.find(sync, max(hlen + 1, min_frame))
            while i != -1:
                nh = frame_header(buf, p + i, si.max_block)
                if nh is not None and nh[2] == want and nh[3] == hdr[3]:
                    nxt = p + i
                    break
                i = window.find(sync, i + 1)
        if nxt is None:
            stop = min(n, p + max_frame + 2)
            start = p + max(hlen + 2, min_frame)
            e = _last_frame_end(buf, p, start, stop, streaminfo, block)
            if e is None:
                truncated = True
                if stop >= n:
                    p = n  # cut inside the last frame
                break  # otherwise a damaged frame: the stream ends before it
            samples += block
            frames += 1
            p = e
            truncated = bool(total) and samples < total
            break
        samples += block
        frames += 1
        expected_num += 1
        p = nxt
    extra["frames"] = frames
    return Probe(p - pos, "flac", "flac", truncated, frames > 0, "flac", extra)

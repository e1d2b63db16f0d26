"""Test media made on the spot: JPEGs with and without EXIF (Pillow), WAV recordings with
the stdlib ``wave`` module (noise, optionally with a run of exact zeros spliced in, a BWF
``bext`` start time), and minimal M4A containers written atom by atom with ``struct``
(ftyp, moov/mvhd/trak/edts/elst/mdia…, mdat) that mutagen reads like a phone's."""

from __future__ import annotations

import datetime as dt
import io
import random
import struct
import wave

from PIL import Image

MP4_EPOCH = dt.datetime(1904, 1, 1, tzinfo=dt.UTC)


def _dms(value: float) -> tuple[float, float, float]:
    value = abs(value)
    degrees = int(value)
    minutes = int((value - degrees) * 60)
    seconds = round(((value - degrees) * 60 - minutes) * 60, 4)
    return (float(degrees), float(minutes), seconds)


def jpeg(
    *,
    taken: dt.datetime | None = None,
    offset: str | None = "+08:00",
    gps: tuple[float, float] | None = None,
    make: str = "Xiaomi",
    model: str = "Redmi Note 12",
    size: tuple[int, int] = (64, 48),
    seed: int = 1,
) -> bytes:
    """A small JPEG. ``taken`` (a naive or aware datetime) becomes EXIF DateTimeOriginal
    written as the local time of ``offset`` (OffsetTimeOriginal, None to leave it out);
    ``gps`` becomes the GPS IFD. With neither, the JPEG has no EXIF time or place."""
    rnd = random.Random(seed)
    img = Image.new("RGB", size, (rnd.randrange(256), rnd.randrange(256), rnd.randrange(256)))
    for x in range(0, size[0], 4):
        img.putpixel((x, x % size[1]), (rnd.randrange(256), 0, 0))
    exif = Image.Exif()
    if make:
        exif[0x010F] = make
        exif[0x0110] = model
    if taken is not None:
        local = taken
        if taken.tzinfo is not None and offset is not None:
            sign = -1 if offset.startswith("-") else 1
            hours, minutes = int(offset[1:3]), int(offset[4:6])
            tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
            local = taken.astimezone(tz)
        sub = {0x9003: local.strftime("%Y:%m:%d %H:%M:%S")}
        if offset is not None:
            sub[0x9011] = offset
        exif[0x8769] = sub
    if gps is not None:
        lat, lon = gps
        exif[0x8825] = {
            1: "N" if lat >= 0 else "S",
            2: _dms(lat),
            3: "E" if lon >= 0 else "W",
            4: _dms(lon),
        }
    out = io.BytesIO()
    img.save(out, "JPEG", exif=exif.tobytes() if len(exif) else b"", quality=85)
    return out.getvalue()


def png(size: tuple[int, int] = (32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, (10, 200, 30)).save(out, "PNG")
    return out.getvalue()


# --- WAV ----------------------------------------------------------------------------


def wav(
    seconds: float = 6.0,
    *,
    rate: int = 8000,
    channels: int = 1,
    gap_at: float | None = None,
    gap_seconds: float = 3.0,
    start: dt.datetime | None = None,
    icrd: str | None = None,
    seed: int = 7,
) -> bytes:
    """16-bit PCM noise (a microphone never gives exact zeros); ``gap_at`` splices in
    ``gap_seconds`` of exact digital silence; ``start`` (aware) is written in a BWF
    ``bext`` chunk as Asia/Shanghai local time; ``icrd`` as LIST/INFO ICRD."""
    rnd = random.Random(seed)
    frames = int(seconds * rate)
    samples = bytearray()
    silent_from = int(gap_at * rate) if gap_at is not None else -1
    silent_to = silent_from + int(gap_seconds * rate) if gap_at is not None else -1
    for i in range(frames):
        for _ in range(channels):
            value = (
                0 if silent_from <= i < silent_to else rnd.choice((-1, 1)) * rnd.randint(40, 3000)
            )
            samples += struct.pack("<h", value)
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(channels)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes(bytes(samples))
    data = out.getvalue()
    extra = b""
    if start is not None:
        from cuishou.core.timeutil import SHANGHAI

        local = start.astimezone(SHANGHAI)
        bext = bytearray(602)
        bext[0:11] = b"visit stop\x00"
        bext[256:264] = b"recorder"
        base = 256 + 32 + 32
        bext[base : base + 10] = local.strftime("%Y-%m-%d").encode()
        bext[base + 10 : base + 18] = local.strftime("%H:%M:%S").encode()
        extra += b"bext" + struct.pack("<I", len(bext)) + bytes(bext)
    if icrd is not None:
        value = icrd.encode() + b"\x00"
        if len(value) & 1:
            value += b"\x00"
        info = b"INFO" + b"ICRD" + struct.pack("<I", len(value)) + value
        extra += b"LIST" + struct.pack("<I", len(info)) + info
    if not extra:
        return data
    # Put the metadata chunks between the RIFF header and the fmt chunk.
    body = data[12:]
    riff = b"WAVE" + extra + body
    return b"RIFF" + struct.pack("<I", len(riff)) + riff


# --- M4A ----------------------------------------------------------------------------


def _atom(name: bytes, *payload: bytes) -> bytes:
    body = b"".join(payload)
    return struct.pack(">I4s", 8 + len(body), name) + body


def _full(name: bytes, version: int, body: bytes) -> bytes:
    return _atom(name, bytes([version, 0, 0, 0]), body)


def _descriptor(tag: int, body: bytes) -> bytes:
    return bytes([tag, len(body)]) + body


def _es_descriptor() -> bytes:
    """An MPEG-4 ES descriptor for AAC-LC, 44.1 kHz, mono."""
    specific = _descriptor(5, b"\x12\x08")
    config = _descriptor(
        4, bytes([0x40, 0x15]) + b"\x00\x00\x00" + struct.pack(">II", 64000, 64000) + specific
    )
    return _descriptor(3, struct.pack(">HB", 1, 0) + config + _descriptor(6, b"\x02"))


def m4a(
    seconds: float = 60.0,
    *,
    created: dt.datetime | None = None,
    edits: list[tuple[float, int]] | None = None,
    sample_rate: int = 44100,
    audio: bool = True,
    with_mdat: bool = True,
) -> bytes:
    """A minimal M4A: one AAC audio track of ``seconds`` (the media header's duration),
    ``created`` as the mvhd creation time, and an edit list ``edits`` of
    (segment seconds, media time in samples or -1 for an empty edit); None = one edit
    over the whole track, what a recorder writes for an unbroken recording."""
    movie_scale = 1000
    when = int((created - MP4_EPOCH).total_seconds()) if created else 0
    movie_duration = int(seconds * movie_scale)
    mvhd = _full(
        b"mvhd",
        0,
        struct.pack(">IIII", when, when, movie_scale, movie_duration)
        + struct.pack(">IH", 0x00010000, 0x0100)
        + b"\x00" * 10
        + struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
        + b"\x00" * 24
        + struct.pack(">I", 2),
    )
    tkhd = _full(
        b"tkhd",
        0,
        struct.pack(">IIIII", when, when, 1, 0, movie_duration)
        + b"\x00" * 8
        + struct.pack(">HHHH", 0, 0, 0x0100, 0)
        + struct.pack(">9I", 0x00010000, 0, 0, 0, 0x00010000, 0, 0, 0, 0x40000000)
        + struct.pack(">II", 0, 0),
    )
    edits = edits if edits is not None else [(seconds, 0)]
    elst_body = struct.pack(">I", len(edits)) + b"".join(
        struct.pack(">IiHH", int(seg * movie_scale), media, 1, 0) for seg, media in edits
    )
    edts = _atom(b"edts", _full(b"elst", 0, elst_body))
    mdhd = _full(
        b"mdhd",
        0,
        struct.pack(">IIII", when, when, sample_rate, int(seconds * sample_rate))
        + struct.pack(">HH", 0x55C4, 0),
    )
    handler = b"soun" if audio else b"vide"
    hdlr = _full(b"hdlr", 0, struct.pack(">I4s", 0, handler) + b"\x00" * 12 + b"Sound\x00")
    mp4a = _atom(
        b"mp4a",
        b"\x00" * 6,
        struct.pack(">H", 1),
        b"\x00" * 8,
        struct.pack(">HHHH", 1, 16, 0, 0),
        struct.pack(">I", sample_rate << 16),
        _full(b"esds", 0, _es_descriptor()),
    )
    stsd = _full(b"stsd", 0, struct.pack(">I", 1) + mp4a)
    stts = _full(b"stts", 0, struct.pack(">I", 0))
    stsc = _full(b"stsc", 0, struct.pack(">I", 0))
    stsz = _full(b"stsz", 0, struct.pack(">II", 0, 0))
    stco = _full(b"stco", 0, struct.pack(">I", 0))
    stbl = _atom(b"stbl", stsd, stts, stsc, stsz, stco)
    smhd = _full(b"smhd", 0, struct.pack(">HH", 0, 0))
    minf = _atom(b"minf", smhd, stbl)
    mdia = _atom(b"mdia", mdhd, hdlr, minf)
    trak = _atom(b"trak", tkhd, edts, mdia)
    moov = _atom(b"moov", mvhd, trak)
    ftyp = _atom(b"ftyp", b"M4A ", struct.pack(">I", 0), b"M4A ", b"mp42", b"isom")
    out = ftyp + moov
    if with_mdat:
        out += _atom(b"mdat", bytes(random.Random(3).randbytes(2048)))
    return out

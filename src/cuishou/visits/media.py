"""What an uploaded file really is, read from its bytes alone (no database, no storage).

``sniff`` names the format by its magic bytes, whatever the file's name or declared type
say. ``inspect_photo`` decodes the image fully (a truncated or fake JPEG is refused) and
reads its EXIF capture time, GPS position and camera. ``inspect_recording`` reads a
recording's duration, its start time when the file carries one, and the gaps it can see:

- WAV (PCM): a gap is a run of exact digital silence (every sample zero) of at least
  ``GAP_MIN_SECONDS``. A real microphone never gives exact zeros for that long; a
  recorder that was paused and resumed, or a file spliced together, does. The start time
  comes from the Broadcast-WAV ``bext`` chunk (origination date and time, local time) or
  the ``LIST/INFO`` ``ICRD`` creation date when it has a time of day.
- M4A/MP4 (via mutagen): the start time is the movie header's (``mvhd``) creation time,
  UTC. A gap is what splicing or pausing leaves in the audio track's edit list
  (``elst``): more than one edit, or an empty edit (media time -1).
- MP3 (via mutagen) and AMR (frames walked here): duration only; no gap check.

Everything refused raises ``MediaError`` with a reason for the person who uploaded it.
"""

from __future__ import annotations

import datetime as dt
import io
import re
import struct
import warnings
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any

from django.utils.translation import gettext as _

from cuishou.core.timeutil import SHANGHAI

GAP_MIN_SECONDS = 2.0

IMAGE_FORMATS = ("jpeg", "png", "webp", "heic")
AUDIO_FORMATS = ("wav", "m4a", "mp3", "amr")
PDF_FORMAT = "pdf"

CONTENT_TYPES = {
    "jpeg": "image/jpeg",
    "png": "image/png",
    "webp": "image/webp",
    "heic": "image/heic",
    "pdf": "application/pdf",
    "wav": "audio/wav",
    "m4a": "audio/mp4",
    "mp3": "audio/mpeg",
    "amr": "audio/amr",
}
EXTENSIONS = {
    "jpeg": ".jpg",
    "png": ".png",
    "webp": ".webp",
    "heic": ".heic",
    "pdf": ".pdf",
    "wav": ".wav",
    "m4a": ".m4a",
    "mp3": ".mp3",
    "amr": ".amr",
}

_HEIC_BRANDS = {b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx", b"mif1", b"msf1"}
_MP4_EPOCH = dt.datetime(1904, 1, 1, tzinfo=dt.UTC)


class MediaError(ValueError):
    """The file is not what it should be; ``str(err)`` says why, for the uploader."""


@dataclass(frozen=True)
class PhotoInfo:
    format: str
    width: int
    height: int
    taken_at: dt.datetime | None = None
    # "exif_offset" (DateTimeOriginal with its UTC offset), "exif_local" (no offset:
    # read as Asia/Shanghai), "gps" (the GPS UTC time stamp) or "" (no time).
    taken_at_source: str = ""
    lat: float | None = None
    lon: float | None = None
    make: str = ""
    model: str = ""

    def as_meta(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "width": self.width,
            "height": self.height,
            "taken_at": self.taken_at.isoformat() if self.taken_at else None,
            "taken_at_source": self.taken_at_source,
            "lat": self.lat,
            "lon": self.lon,
            "make": self.make,
            "model": self.model,
        }


@dataclass(frozen=True)
class Gap:
    """A stretch the recording did not capture: ``offset`` seconds into the file,
    ``length`` seconds long (0 for a splice point whose cut length is unknown)."""

    offset: float
    length: float
    kind: str  # "silence" (WAV zeros), "empty_edit", "splice" (M4A edit list)


@dataclass(frozen=True)
class RecordingInfo:
    format: str
    duration: float
    sample_rate: int | None = None
    channels: int | None = None
    started_at: dt.datetime | None = None
    # "bext", "icrd" (local time, read as Asia/Shanghai), "mvhd" (UTC) or "".
    started_at_source: str = ""
    gaps: list[Gap] = field(default_factory=list)
    gaps_checked: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def ended_at(self) -> dt.datetime | None:
        if self.started_at is None:
            return None
        return self.started_at + dt.timedelta(seconds=self.duration)

    def as_meta(self) -> dict[str, Any]:
        return {
            "format": self.format,
            "duration": round(self.duration, 3),
            "sample_rate": self.sample_rate,
            "channels": self.channels,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "started_at_source": self.started_at_source,
            "gaps": [
                {"offset": round(g.offset, 3), "length": round(g.length, 3), "kind": g.kind}
                for g in self.gaps
            ],
            "gaps_checked": self.gaps_checked,
            **self.extra,
        }


# --- sniffing -----------------------------------------------------------------------


def sniff(content: bytes) -> str | None:
    """The format the bytes are (a key of ``CONTENT_TYPES``), or None for anything else —
    text, HTML, an executable, an empty file."""
    head = content[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return "wav"
    if head[4:8] == b"ftyp" and len(head) >= 12:
        size = struct.unpack(">I", head[:4])[0]
        brands = {content[i : i + 4] for i in range(8, min(max(size, 12), 64), 4)}
        brands.discard(b"\x00\x00\x00\x00")
        return "heic" if brands & _HEIC_BRANDS else "m4a"
    if b"%PDF-" in content[:1024]:
        return "pdf"
    if head.startswith(b"#!AMR\n") or head.startswith(b"#!AMR-WB\n"):
        return "amr"
    if head.startswith(b"ID3"):
        return "mp3"
    if len(head) >= 4 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0:
        version, layer = (head[1] >> 3) & 3, (head[1] >> 1) & 3
        bitrate, rate = head[2] >> 4, (head[2] >> 2) & 3
        if version != 1 and layer != 0 and bitrate not in (0, 15) and rate != 3:
            return "mp3"
    return None


# --- photos -------------------------------------------------------------------------

_EXIF_IFD = 0x8769
_GPS_IFD = 0x8825
_DATETIME_ORIGINAL = 0x9003
_DATETIME_DIGITIZED = 0x9004
_OFFSET_ORIGINAL = 0x9011
_OFFSET_DIGITIZED = 0x9012
_MAKE = 0x010F
_MODEL = 0x0110


def inspect_photo(content: bytes) -> PhotoInfo:
    """Decode the image completely and read its EXIF; MediaError when it is not an image
    that decodes (a text file, a truncated JPEG) or is a HEIC this server cannot decode."""
    from PIL import Image, UnidentifiedImageError

    fmt = sniff(content)
    if fmt not in IMAGE_FORMATS:
        raise MediaError(_("This is not a photo (JPEG, PNG, WebP or HEIC)."))
    if fmt == "heic":
        raise MediaError(
            _(
                "HEIC photos cannot be checked here; upload the photo as JPEG (on an "
                "iPhone: Settings → Camera → Formats → Most Compatible)."
            )
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            reader = _Reader(content)
            with Image.open(reader) as img:
                width, height = img.size
                exif = img.getexif()
                reader.starved = 0
                img.load()
        if reader.starved:
            # The decoder wanted more than the file has. Pillow would say so, unless
            # ImageFile.LOAD_TRUNCATED_IMAGES is on (WeasyPrint turns it on globally).
            raise OSError("image file is truncated")
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        raise MediaError(_("The photo is too large to open (%(err)s).") % {"err": err}) from err
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, struct.error) as err:
        raise MediaError(
            _("The photo does not decode; it is damaged or incomplete (%(err)s).") % {"err": err}
        ) from err
    taken_at, source = _exif_time(exif)
    lat, lon, gps_time = _exif_gps(exif)
    if taken_at is None and gps_time is not None:
        taken_at, source = gps_time, "gps"
    return PhotoInfo(
        format=fmt,
        width=width,
        height=height,
        taken_at=taken_at,
        taken_at_source=source,
        lat=lat,
        lon=lon,
        make=_text(exif.get(_MAKE)),
        model=_text(exif.get(_MODEL)),
    )


class _Reader(io.BytesIO):
    """Counts the reads that found nothing left: a decoder starved of data."""

    starved = 0

    def read(self, size: int | None = -1) -> bytes:
        data = super().read(size)
        if not data and size != 0:
            self.starved += 1
        return data


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    return str(value or "").strip("\x00 ").strip()[:100]


def _exif_time(exif: Any) -> tuple[dt.datetime | None, str]:
    try:
        ifd = exif.get_ifd(_EXIF_IFD)
    except Exception:  # a broken EXIF block is "no time", not a refusal
        return None, ""
    for tag, offset_tag in (
        (_DATETIME_ORIGINAL, _OFFSET_ORIGINAL),
        (_DATETIME_DIGITIZED, _OFFSET_DIGITIZED),
    ):
        raw = _text(ifd.get(tag))
        try:
            naive = dt.datetime.strptime(raw[:19], "%Y:%m:%d %H:%M:%S")  # noqa: DTZ007 - zone below
        except ValueError:
            continue
        offset = _parse_offset(_text(ifd.get(offset_tag)))
        if offset is not None:
            return naive.replace(tzinfo=offset), "exif_offset"
        return naive.replace(tzinfo=SHANGHAI), "exif_local"
    return None, ""


def _parse_offset(raw: str) -> dt.timezone | None:
    match = re.fullmatch(r"([+-])(\d{2}):?(\d{2})", raw.strip())
    if not match:
        return None
    sign = -1 if match.group(1) == "-" else 1
    minutes = int(match.group(2)) * 60 + int(match.group(3))
    if minutes > 14 * 60:
        return None
    return dt.timezone(sign * dt.timedelta(minutes=minutes))


def _rational(value: Any) -> Fraction:
    if isinstance(value, tuple) and len(value) == 2:
        return Fraction(int(value[0]), int(value[1]))
    return Fraction(float(value)).limit_denominator(10**9)


def _degrees(dms: Any, ref: str) -> float | None:
    try:
        parts = [_rational(x) for x in dms]
        degrees = float(parts[0] + parts[1] / 60 + parts[2] / 3600)
    except (TypeError, ValueError, ZeroDivisionError, IndexError):
        return None
    if ref.upper() in ("S", "W"):
        degrees = -degrees
    return round(degrees, 6)


def _exif_gps(exif: Any) -> tuple[float | None, float | None, dt.datetime | None]:
    try:
        gps = exif.get_ifd(_GPS_IFD)
    except Exception:  # a broken GPS block is "no location"
        return None, None, None
    lat = lon = None
    if 2 in gps and 4 in gps:
        lat = _degrees(gps[2], _text(gps.get(1)) or "N")
        lon = _degrees(gps[4], _text(gps.get(3)) or "E")
        if lat is None or lon is None or not (-90 <= lat <= 90 and -180 <= lon <= 180):
            lat = lon = None
        elif lat == 0 and lon == 0:
            lat = lon = None  # a phone without a fix writes zeros
    when = None
    if 7 in gps and 29 in gps:
        try:
            h, m, s = (float(_rational(x)) for x in gps[7])
            day = dt.datetime.strptime(_text(gps[29]) + "+0000", "%Y:%m:%d%z")
            when = day + dt.timedelta(hours=h, minutes=m, seconds=s)
        except (TypeError, ValueError, ZeroDivisionError):
            when = None
    return lat, lon, when


# --- recordings ---------------------------------------------------------------------


def inspect_recording(content: bytes, file_name: str = "") -> RecordingInfo:
    """Read a recording (WAV, M4A, MP3, AMR); MediaError when it is not audio this server
    can read, or is empty. ``file_name`` only words the error."""
    fmt = sniff(content)
    if fmt == "wav":
        return _inspect_wav(content)
    if fmt == "m4a":
        return _inspect_mp4(content)
    if fmt == "mp3":
        return _inspect_mp3(content)
    if fmt == "amr":
        return _inspect_amr(content)
    raise MediaError(
        _("%(name)s is not a recording (WAV, M4A, MP3 or AMR).")
        % {"name": file_name or _("The file")}
    )


def _riff_chunks(content: bytes) -> dict[bytes, tuple[int, int, int]]:
    """The top-level RIFF chunks: id -> (data offset, declared size, size present)."""
    chunks: dict[bytes, tuple[int, int, int]] = {}
    pos, end = 12, len(content)
    while pos + 8 <= end:
        cid, size = struct.unpack("<4sI", content[pos : pos + 8])
        start = pos + 8
        chunks.setdefault(cid, (start, size, max(0, min(size, end - start))))
        pos = start + size + (size & 1)
    return chunks


def _inspect_wav(content: bytes) -> RecordingInfo:
    import wave

    chunks = _riff_chunks(content)
    if b"fmt " not in chunks or b"data" not in chunks:
        raise MediaError(_("The WAV file has no audio format or no audio data; it is damaged."))
    fmt_off, _size, fmt_len = chunks[b"fmt "]
    if fmt_len < 16:
        raise MediaError(_("The WAV file's format block is damaged."))
    tag, channels, rate, byte_rate, block_align, _bits = struct.unpack(
        "<HHIIHH", content[fmt_off : fmt_off + 16]
    )
    data_off, data_declared, data_len = chunks[b"data"]
    if channels == 0 or rate == 0 or block_align == 0 or byte_rate == 0:
        raise MediaError(_("The WAV file's format block is damaged."))
    extra: dict[str, Any] = {}
    if data_declared > data_len:
        extra["data_truncated"] = True
    frames = data_len // block_align
    if frames == 0:
        raise MediaError(_("The recording is empty."))
    started, source = _wav_start(content, chunks)
    gaps: list[Gap] = []
    checked = False
    try:
        with wave.open(io.BytesIO(content)) as w:  # validates a PCM header
            sampwidth = w.getsampwidth()
            channels, rate = w.getnchannels(), w.getframerate()
    except (wave.Error, EOFError, struct.error):
        # Not PCM (e.g. IMA ADPCM from a recorder pen): the duration from the byte rate,
        # no silence check (zeros mean nothing in a compressed stream).
        extra["codec"] = tag
        duration = data_len / byte_rate
    else:
        duration = frames / rate
        gaps = _silent_runs(
            content,
            data_off,
            frames * block_align,
            frame_size=block_align,
            rate=rate,
            silence=b"\x80" if sampwidth == 1 else b"\x00",
        )
        checked = True
    return RecordingInfo(
        format="wav",
        duration=duration,
        sample_rate=rate,
        channels=channels,
        started_at=started,
        started_at_source=source,
        gaps=gaps,
        gaps_checked=checked,
        extra=extra,
    )


def _silent_runs(
    content: bytes, start: int, length: int, *, frame_size: int, rate: int, silence: bytes
) -> list[Gap]:
    """Runs of exact digital silence of at least GAP_MIN_SECONDS in the PCM data at
    ``content[start:start+length]`` (whole frames only). Linear: ``bytes.find`` of a
    block of silence, then a regex search for the first byte that is not silence."""
    min_frames = max(1, int(GAP_MIN_SECONDS * rate))
    needle = silence * (min_frames * frame_size)
    not_silent = re.compile(b"[^" + re.escape(silence) + b"]")
    end = start + length
    gaps: list[Gap] = []
    pos = start
    while True:
        hit = content.find(needle, pos, end)
        if hit < 0:
            break
        other = not_silent.search(content, hit + len(needle), end)
        run_end = other.start() if other else end
        first = -(-(hit - start) // frame_size)  # the first whole frame in the run
        last = (run_end - start) // frame_size  # one past the last whole frame
        if last - first >= min_frames:
            gaps.append(Gap(offset=first / rate, length=(last - first) / rate, kind="silence"))
        pos = run_end
    return gaps


def _wav_start(
    content: bytes, chunks: dict[bytes, tuple[int, int, int]]
) -> tuple[dt.datetime | None, str]:
    if b"bext" in chunks:
        off, _size, length = chunks[b"bext"]
        if length >= 256 + 32 + 32 + 10 + 8:
            base = off + 256 + 32 + 32
            day = content[base : base + 10].decode("ascii", "replace")
            time = content[base + 10 : base + 18].decode("ascii", "replace")
            when = _local_time(f"{day} {time}")
            if when is not None:
                return when, "bext"
    if b"LIST" in chunks:
        off, _size, length = chunks[b"LIST"]
        if content[off : off + 4] == b"INFO":
            pos, end = off + 4, off + length
            while pos + 8 <= end:
                sub, size = struct.unpack("<4sI", content[pos : pos + 8])
                if sub == b"ICRD":
                    raw = content[pos + 8 : pos + 8 + size].split(b"\x00")[0]
                    when = _local_time(raw.decode("ascii", "replace"))
                    if when is not None:
                        return when, "icrd"
                pos += 8 + size + (size & 1)
    return None, ""


def _local_time(raw: str) -> dt.datetime | None:
    """A date with a time of day (``2026-05-01 10:15:00``, ``2026:05:01 10-15-00``,
    ``2026-05-01T10:15:00``…), read as Asia/Shanghai; None for a date alone or junk."""
    match = re.match(
        r"\s*(\d{4})[-:/.](\d{2})[-:/.](\d{2})[ T_](\d{2})[-:.](\d{2})[-:.](\d{2})", raw
    )
    if not match:
        return None
    try:
        y, mo, d, h, mi, sec = (int(g) for g in match.groups())
        return dt.datetime(y, mo, d, h, mi, sec, tzinfo=SHANGHAI)
    except ValueError:
        return None


def _inspect_mp4(content: bytes) -> RecordingInfo:
    from mutagen.mp4 import MP4, Atoms, MP4StreamInfoError

    fileobj = io.BytesIO(content)
    try:
        atoms = Atoms(fileobj)
        audio = MP4(io.BytesIO(content))
    except Exception as err:  # mutagen raises many kinds; all mean unreadable
        raise MediaError(
            _("The recording does not open; it is damaged or incomplete (%(err)s).") % {"err": err}
        ) from err
    try:
        moov = atoms[b"moov"]
    except KeyError as err:
        raise MediaError(_("The recording has no header (moov); it is damaged.")) from err
    track = None
    for trak in moov.findall(b"trak"):
        try:
            ok, data = trak[b"mdia", b"hdlr"].read(fileobj)
        except (KeyError, MP4StreamInfoError):
            continue
        if ok and data[8:12] == b"soun":
            track = trak
            break
    if track is None:
        raise MediaError(_("The file has no audio track."))
    if not any(a.name in (b"mdat", b"moof") and a.datalength > 0 for a in atoms.atoms):
        raise MediaError(_("The recording has no audio data; it is damaged or incomplete."))
    stream: Any = audio.info
    duration = float(getattr(stream, "length", 0) or 0)
    if duration <= 0:
        raise MediaError(_("The recording is empty."))
    timescale, created = _mvhd(moov, fileobj)
    gaps = _edit_gaps(track, fileobj, timescale)
    return RecordingInfo(
        format="m4a",
        duration=duration,
        sample_rate=getattr(stream, "sample_rate", None) or None,
        channels=getattr(stream, "channels", None) or None,
        started_at=created,
        started_at_source="mvhd" if created else "",
        gaps=gaps,
        gaps_checked=True,
        extra={"codec": str(getattr(stream, "codec", ""))},
    )


def _mvhd(moov: Any, fileobj: io.BytesIO) -> tuple[int, dt.datetime | None]:
    """The movie timescale and creation time (None when absent, zero or before 2000)."""
    try:
        ok, data = moov[b"mvhd",].read(fileobj)
    except KeyError:
        return 0, None
    if not ok or len(data) < 20:
        return 0, None
    if data[0] == 1 and len(data) >= 32:
        created, _modified, timescale = struct.unpack(">QQI", data[4:24])
    else:
        created, _modified, timescale = struct.unpack(">III", data[4:16])
    when = _MP4_EPOCH + dt.timedelta(seconds=created) if created else None
    if when is not None and when.year < 2000:
        when = None
    return timescale, when


def _edit_gaps(track: Any, fileobj: io.BytesIO, timescale: int) -> list[Gap]:
    """Gaps in a track's edit list: an empty edit (media time -1) is a pause of its
    segment's length; each boundary between two media edits is a splice."""
    edts = next((a for a in track.children if a.name == b"edts"), None)
    if edts is None:
        return []
    ok, data = edts.read(fileobj)
    pos = 0
    while ok and pos + 8 <= len(data):
        size, name = struct.unpack(">I4s", data[pos : pos + 8])
        if name == b"elst":
            return _parse_elst(data[pos + 8 : pos + size], timescale)
        if size < 8:
            break
        pos += size
    return []


def _parse_elst(body: bytes, timescale: int) -> list[Gap]:
    if len(body) < 8:
        return []
    version = body[0]
    count = struct.unpack(">I", body[4:8])[0]
    fmt, step = (">QqHH", 20) if version == 1 else (">IiHH", 12)
    entries = []
    for i in range(count):
        chunk = body[8 + i * step : 8 + (i + 1) * step]
        if len(chunk) < step:
            break
        entries.append(struct.unpack(fmt, chunk))
    scale = timescale or 1
    gaps: list[Gap] = []
    at = 0.0
    previous_media = False
    for segment, media_time, _rate_int, _rate_frac in entries:
        seconds = segment / scale
        if media_time == -1:
            gaps.append(Gap(offset=at, length=seconds, kind="empty_edit"))
        elif previous_media:
            gaps.append(Gap(offset=at, length=0.0, kind="splice"))
        previous_media = media_time != -1
        at += seconds
    return gaps


def _inspect_mp3(content: bytes) -> RecordingInfo:
    from mutagen.mp3 import MP3

    try:
        audio = MP3(io.BytesIO(content))
    except Exception as err:  # mutagen raises many kinds; all mean unreadable
        raise MediaError(
            _("The recording does not open; it is damaged or incomplete (%(err)s).") % {"err": err}
        ) from err
    stream: Any = audio.info
    duration = float(getattr(stream, "length", 0) or 0)
    if duration <= 0:
        raise MediaError(_("The recording is empty."))
    return RecordingInfo(
        format="mp3",
        duration=duration,
        sample_rate=getattr(stream, "sample_rate", None) or None,
        channels=getattr(stream, "channels", None) or None,
    )


# Bytes after the one-byte frame header, by frame type; None = reserved (invalid).
_AMR_NB = [12, 13, 15, 17, 19, 20, 26, 31, 5, None, None, None, None, None, None, 0]
_AMR_WB = [17, 23, 32, 36, 40, 46, 50, 58, 60, 5, None, None, None, None, 0, 0]


def _inspect_amr(content: bytes) -> RecordingInfo:
    wide = content.startswith(b"#!AMR-WB\n")
    sizes = _AMR_WB if wide else _AMR_NB
    pos = 9 if wide else 6
    frames = 0
    while pos < len(content):
        size = sizes[(content[pos] >> 3) & 0x0F]
        if size is None or pos + 1 + size > len(content):
            raise MediaError(
                _("The recording is damaged or incomplete (AMR frame %(n)d).") % {"n": frames + 1}
            )
        pos += 1 + size
        frames += 1
    if frames == 0:
        raise MediaError(_("The recording is empty."))
    return RecordingInfo(
        format="amr",
        duration=frames * 0.02,
        sample_rate=16000 if wide else 8000,
        channels=1,
    )


# --- documents ----------------------------------------------------------------------


def inspect_pdf(content: bytes) -> dict[str, Any]:
    """Open the PDF (pypdf) and count its pages; MediaError when it does not open."""
    if sniff(content) != PDF_FORMAT:
        raise MediaError(_("This is not a PDF."))
    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(content), strict=False)
        pages = len(reader.pages)
    except Exception as err:  # pypdf raises many kinds; all mean unreadable
        raise MediaError(
            _("The PDF does not open; it is damaged or incomplete (%(err)s).") % {"err": err}
        ) from err
    if pages == 0:
        raise MediaError(_("The PDF has no pages."))
    return {"format": PDF_FORMAT, "pages": pages}

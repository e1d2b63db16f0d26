"""What the bytes of an upload are: sniffing, photos (decode, EXIF time, GPS, camera),
recordings (duration, start time, gaps) and PDFs, with no database."""

from __future__ import annotations

import datetime as dt
import struct

import pytest

from cuishou.core.timeutil import SHANGHAI
from cuishou.visits.media import (
    MediaError,
    inspect_pdf,
    inspect_photo,
    inspect_recording,
    sniff,
)
from tests.visits import mediafiles as mf

WHEN = dt.datetime(2026, 5, 1, 2, 15, 30, tzinfo=dt.UTC)  # 10:15:30 in Shanghai


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (mf.jpeg(), "jpeg"),
        (mf.png(), "png"),
        (b"RIFF\x10\x00\x00\x00WEBPVP8 ", "webp"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "heic"),
        (b"%PDF-1.7\n...", "pdf"),
        (mf.wav(0.5), "wav"),
        (mf.m4a(5), "m4a"),
        (b"ID3\x04\x00\x00\x00\x00\x00\x00", "mp3"),
        (b"\xff\xfb\x90\x64" + b"\x00" * 10, "mp3"),
        (b"#!AMR\n\x3c" + b"\x00" * 31, "amr"),
        (b"hello, I am a text file named photo.jpg\n", None),
        (b"<html><body>not a photo</body></html>", None),
        (b"", None),
    ],
)
def test_sniff_names_the_format_by_its_bytes(content, expected):
    assert sniff(content) == expected


def test_a_photo_with_exif_gives_its_time_place_and_camera():
    info = inspect_photo(mf.jpeg(taken=WHEN, gps=(31.2335, 121.5055)))
    assert info.format == "jpeg"
    assert (info.width, info.height) == (64, 48)
    assert info.taken_at == WHEN
    assert info.taken_at_source == "exif_offset"
    assert info.lat == pytest.approx(31.2335, abs=1e-5)
    assert info.lon == pytest.approx(121.5055, abs=1e-5)
    assert (info.make, info.model) == ("Xiaomi", "Redmi Note 12")


def test_an_exif_time_without_offset_is_read_as_shanghai_time():
    # Written as 02:15:30 with no offset: that is 02:15:30 in Shanghai, 18:15:30 UTC the day before.
    info = inspect_photo(mf.jpeg(taken=WHEN.replace(tzinfo=None), offset=None))
    assert info.taken_at == dt.datetime(2026, 5, 1, 2, 15, 30, tzinfo=SHANGHAI)
    assert info.taken_at_source == "exif_local"


def test_an_exif_time_with_another_offset_keeps_it():
    info = inspect_photo(mf.jpeg(taken=WHEN, offset="-05:00"))
    assert info.taken_at == WHEN
    assert info.taken_at.utcoffset() == dt.timedelta(hours=-5)


def test_southern_and_western_gps_are_negative():
    info = inspect_photo(mf.jpeg(gps=(-33.8688, -70.6693)))
    assert info.lat == pytest.approx(-33.8688, abs=1e-5)
    assert info.lon == pytest.approx(-70.6693, abs=1e-5)


def test_a_photo_without_exif_has_no_time_and_no_place():
    info = inspect_photo(mf.jpeg(make=""))
    assert info.taken_at is None
    assert info.lat is None and info.lon is None
    assert info.make == ""


def test_a_png_decodes_too():
    assert inspect_photo(mf.png()).format == "png"


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"hello, I am a text file named photo.jpg\n", "not a photo"),
        (mf.jpeg()[:400], "does not decode"),
        (mf.jpeg(size=(400, 300))[:3000], "does not decode"),
        (b"\xff\xd8\xff\xe0" + b"garbage" * 50, "does not decode"),
        (b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic", "HEIC"),
    ],
)
def test_what_is_not_a_decodable_photo_is_refused_with_the_reason(content, reason):
    with pytest.raises(MediaError, match=reason):
        inspect_photo(content)


def test_a_wav_gives_duration_rate_channels_and_no_gap_for_noise():
    info = inspect_recording(mf.wav(6, rate=8000, channels=2), "stop.wav")
    assert info.format == "wav"
    assert info.duration == pytest.approx(6.0)
    assert (info.sample_rate, info.channels) == (8000, 2)
    assert info.gaps_checked and info.gaps == []
    assert info.started_at is None


def test_a_spliced_run_of_exact_zeros_is_a_gap_with_its_offset_and_length():
    info = inspect_recording(mf.wav(10, gap_at=4.0, gap_seconds=3.0), "stop.wav")
    assert len(info.gaps) == 1
    assert info.gaps[0].offset == pytest.approx(4.0, abs=0.01)
    assert info.gaps[0].length == pytest.approx(3.0, abs=0.01)


def test_a_short_silence_is_not_a_gap():
    info = inspect_recording(mf.wav(10, gap_at=4.0, gap_seconds=1.5), "stop.wav")
    assert info.gaps == []


def test_a_gap_in_stereo_needs_both_channels_silent():
    info = inspect_recording(mf.wav(8, channels=2, gap_at=1.0, gap_seconds=2.5), "stop.wav")
    assert [round(g.length, 1) for g in info.gaps] == [2.5]


def test_the_bwf_bext_chunk_gives_the_start_time():
    info = inspect_recording(mf.wav(3, start=WHEN), "stop.wav")
    assert info.started_at == WHEN
    assert info.started_at_source == "bext"
    assert info.ended_at == WHEN + dt.timedelta(seconds=3)


def test_list_info_icrd_with_a_time_gives_the_start_and_a_date_alone_does_not():
    timed = inspect_recording(mf.wav(2, icrd="2026-05-01 10:15:30"), "a.wav")
    assert timed.started_at == WHEN
    assert timed.started_at_source == "icrd"
    dated = inspect_recording(mf.wav(2, icrd="2026-05-01"), "a.wav")
    assert dated.started_at is None


def test_an_m4a_gives_duration_and_the_mvhd_creation_time():
    info = inspect_recording(mf.m4a(95.5, created=WHEN), "stop.m4a")
    assert info.format == "m4a"
    assert info.duration == pytest.approx(95.5)
    assert info.started_at == WHEN
    assert info.started_at_source == "mvhd"
    assert info.gaps_checked and info.gaps == []


def test_an_m4a_without_creation_time_has_no_start():
    assert inspect_recording(mf.m4a(10), "stop.m4a").started_at is None


def test_an_empty_edit_in_an_m4a_is_a_pause_and_a_second_media_edit_a_splice():
    paused = inspect_recording(mf.m4a(60, edits=[(20, 0), (5, -1), (35, 20 * 44100)]), "stop.m4a")
    assert [(g.kind, g.offset, g.length) for g in paused.gaps] == [("empty_edit", 20.0, 5.0)]
    spliced = inspect_recording(mf.m4a(60, edits=[(20, 0), (40, 30 * 44100)]), "stop.m4a")
    assert [(g.kind, g.offset) for g in spliced.gaps] == [("splice", 20.0)]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk", "damaged"),
        (mf.wav(1)[:44], "empty"),
        (b"just some text.wav", "not a recording"),
        (mf.jpeg(), "not a recording"),
        (mf.m4a(10)[:300], "does not open"),
        (mf.m4a(10, audio=False), "no audio track"),
        (mf.m4a(10, with_mdat=False), "no audio data"),
        (b"#!AMR\n\x3c" + b"\x00" * 5, "AMR frame 1"),
    ],
)
def test_an_unreadable_recording_is_refused_with_the_reason(content, reason):
    with pytest.raises(MediaError, match=reason):
        inspect_recording(content, "stop.wav")


def test_amr_frames_give_the_duration():
    frame = b"\x3c" + b"\x01" * 31  # mode 7 (12.2 kbit/s): 31 bytes after the header
    info = inspect_recording(b"#!AMR\n" + frame * 150, "a.amr")
    assert info.duration == pytest.approx(3.0)
    assert not info.gaps_checked


def test_non_pcm_wav_gets_its_duration_from_the_byte_rate_without_gap_check():
    # IMA ADPCM (format tag 0x11): the stdlib cannot decode it; the header still says how long.
    fmt = struct.pack("<HHIIHH", 0x11, 1, 8000, 4055, 256, 4) + b"\x02\x00\xf9\x01"
    data = b"\x11" * 4055 * 4
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt
    body += b"data" + struct.pack("<I", len(data)) + data
    info = inspect_recording(b"RIFF" + struct.pack("<I", len(body)) + body, "pen.wav")
    assert info.duration == pytest.approx(4.0)
    assert not info.gaps_checked


def test_a_pdf_opens_and_a_fake_one_does_not():
    from weasyprint import HTML

    pdf = HTML(string="<p>回执</p>").write_pdf()
    assert inspect_pdf(pdf)["pages"] == 1
    with pytest.raises(MediaError, match="not a PDF"):
        inspect_pdf(b"hello.pdf")
    with pytest.raises(MediaError):
        inspect_pdf(b"%PDF-1.7\nthis is not really a pdf")


def test_a_truncated_photo_is_refused_even_when_pillow_is_told_to_load_truncated_images(
    monkeypatch,
):
    from PIL import ImageFile

    # WeasyPrint switches this on for the whole process when it is imported.
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    content = mf.jpeg(size=(400, 300))
    assert inspect_photo(content).width == 400
    with pytest.raises(MediaError, match="does not decode"):
        inspect_photo(content[: len(content) // 2])

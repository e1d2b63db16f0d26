"""Read a portfolio file into Polars frames of strings, one per sheet.

Accepts an ``.xlsx`` workbook (read with python-calamine), a ``.zip`` of CSV files or a
folder of CSV files. CSV encoding is detected: strict UTF-8 (with or without BOM), else
GB18030 (which covers GBK, what Excel writes in China), else a clear error.

Every frame has the sheet's English column names (optional columns that are absent are
added empty), all values as stripped strings with empty cells as null, and the column
``_row``: the spreadsheet row number a person sees (header = 1, first data row = 2).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import io
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

import polars as pl
from django.utils.translation import gettext as _
from python_calamine import CalamineWorkbook

from cuishou.portfolio.importer.columns import ROW, SHEETS, Sheet
from cuishou.portfolio.importer.errors import RowError

XLSX_CHUNK_ROWS = 200_000


@dataclass
class SourceFrames:
    frames: dict[str, pl.DataFrame] = field(default_factory=dict)
    errors: list[RowError] = field(default_factory=list)
    sha256: str = ""
    # Per sheet, the optional columns the file does not have (added empty to the frame):
    # the importer keeps what a loan has stored for some of them (``KEPT_WHEN_ABSENT``).
    absent: dict[str, frozenset[str]] = field(default_factory=dict)


class EncodingProblemError(ValueError):
    pass


def decode_csv(data: bytes) -> bytes:
    """Return the CSV as UTF-8 bytes.

    Strict UTF-8 first (a BOM is dropped); failing that GB18030; failing both an
    ``EncodingProblemError`` naming the line of the first byte that fits neither.
    UTF-16 (what "Unicode text" export writes) is named as such: every byte would decode
    as GB18030, so it has to be caught before."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in data[:4096]:
        raise EncodingProblemError(
            _('the file is UTF-16 (Excel\'s "Unicode text"); save it as CSV UTF-8 or GB18030')
        )
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError as exc:
        utf8_error = exc
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError as exc:
        raise EncodingProblemError(
            _(
                "the file is neither UTF-8 (byte 0x%(b1)02x on line %(l1)d is not UTF-8) nor "
                "GB18030 (byte 0x%(b2)02x on line %(l2)d is not GB18030); save it as UTF-8 CSV"
            )
            % {
                "b1": data[utf8_error.start],
                "l1": data.count(b"\n", 0, utf8_error.start) + 1,
                "b2": data[exc.start],
                "l2": data.count(b"\n", 0, exc.start) + 1,
            }
        ) from exc
    return text.encode("utf-8")


def _sheet_for_name(name: str) -> Sheet | None:
    stem = name.rsplit("/", 1)[-1]
    if "." in stem:
        stem, _dot, ext = stem.rpartition(".")
        if ext.lower() not in {"csv", "txt"}:
            return None
    stem = stem.strip().lower()
    for sheet in SHEETS:
        if stem in {sheet.name, sheet.zh}:
            return sheet
    return None


def _normalise(
    sheet: Sheet, raw: pl.DataFrame, header_row: int, absent: dict[str, frozenset[str]]
) -> tuple[pl.DataFrame, list]:
    """Rename headers to English, add absent optional columns (named in ``absent``),
    strip values."""
    errors: list[RowError] = []
    mapping = sheet.header_map()
    chosen: dict[str, str] = {}
    for header in raw.columns:
        key = header.replace("\ufeff", "").strip()
        name = mapping.get(key) or mapping.get(key.lower())
        if name and name not in chosen.values():
            chosen[header] = name
    present = set(chosen.values())
    absent[sheet.name] = frozenset(c.name for c in sheet.columns if c.name not in present)
    for col in sheet.columns:
        if col.header_required and col.name not in present:
            errors.append(
                RowError(
                    sheet.name,
                    header_row,
                    col.name,
                    _("missing column (%(en)s or %(zh)s)") % {"en": col.name, "zh": col.zh},
                )
            )
    if errors:
        return pl.DataFrame(), errors
    exprs: list[pl.Expr] = []
    for col in sheet.columns:
        source = next((h for h, n in chosen.items() if n == col.name), None)
        if source is None:
            exprs.append(pl.lit(None, dtype=pl.String).alias(col.name))
        else:
            value = pl.col(source).cast(pl.String).str.strip_chars()
            exprs.append(
                pl.when(value.str.len_bytes() > 0).then(value).otherwise(None).alias(col.name)
            )
    frame = raw.select([pl.col(ROW), *exprs])
    # Rows with no value at all (trailing blank rows in a spreadsheet) are not data.
    frame = frame.filter(pl.any_horizontal(pl.col(sheet.column_names).is_not_null()))
    return frame, errors


def read_csv_sheet(
    sheet: Sheet,
    data: bytes,
    errors: list[RowError],
    absent: dict[str, frozenset[str]] | None = None,
) -> pl.DataFrame | None:
    """One sheet from CSV bytes (UTF-8 or GB18030): the frame, or None with ``errors``;
    ``absent`` (when given) gets the optional columns the file lacks."""
    try:
        utf8 = decode_csv(data)
    except EncodingProblemError as exc:
        errors.append(RowError(sheet.name, 1, "-", str(exc)))
        return None
    try:
        raw = pl.read_csv(
            io.BytesIO(utf8),
            infer_schema=False,
            has_header=True,
            raise_if_empty=False,
        )
    except pl.exceptions.PolarsError as exc:
        errors.append(
            RowError(sheet.name, 1, "-", _("not a readable CSV file: %(e)s") % {"e": exc})
        )
        return None
    raw = raw.with_row_index(ROW, offset=2).with_columns(pl.col(ROW).cast(pl.Int64))
    frame, header_errors = _normalise(sheet, raw, 1, {} if absent is None else absent)
    errors.extend(header_errors)
    return None if header_errors else frame


def _cell(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, int):  # bool included: "True"
        return str(value)
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        # Excel keeps 15 significant digits: 1500.0000000000002 from a formula is 1500,
        # and an 18-digit ID number typed as a number shows as 1.10105198604011e+17.
        return f"{value:.15g}"
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def _chunks(rows: Iterator[list[Any]], size: int) -> Iterable[list[list[Any]]]:
    chunk: list[list[Any]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def read_xlsx_sheet(
    sheet: Sheet,
    workbook: CalamineWorkbook,
    sheet_name: str,
    errors: list[RowError],
    absent: dict[str, frozenset[str]] | None = None,
) -> pl.DataFrame | None:
    """One sheet of a workbook, as ``read_csv_sheet``."""
    xl = workbook.get_sheet_by_name(sheet_name)
    first_row = (xl.start or (0, 0))[0] + 1  # the spreadsheet row of the header
    rows = iter(xl.iter_rows())
    header_cells = next(rows, None)
    if header_cells is None:
        errors.append(RowError(sheet.name, 1, "-", _("the sheet is empty (no header row)")))
        return None
    headers = [(_cell(h) or f"_blank_{i}") for i, h in enumerate(header_cells)]
    width = len(headers)
    parts: list[pl.DataFrame] = []
    next_row = first_row + 1
    for chunk in _chunks(rows, XLSX_CHUNK_ROWS):
        columns: list[list[str | None]] = [[] for _i in range(width)]
        for cells in chunk:
            for i in range(width):
                columns[i].append(_cell(cells[i]) if i < len(cells) else None)
        part = pl.DataFrame(
            {h: pl.Series(h, c, dtype=pl.String) for h, c in zip(headers, columns, strict=True)}
        )
        parts.append(
            part.with_columns(
                pl.int_range(next_row, next_row + len(chunk), dtype=pl.Int64).alias(ROW)
            )
        )
        next_row += len(chunk)
    raw = (
        pl.concat(parts)
        if parts
        else pl.DataFrame(
            {**{h: pl.Series(h, [], dtype=pl.String) for h in headers}, ROW: []},
            schema_overrides={ROW: pl.Int64},
        )
    )
    frame, header_errors = _normalise(sheet, raw, first_row, {} if absent is None else absent)
    errors.extend(header_errors)
    return None if header_errors else frame


def _missing_sheet(sheet: Sheet, where: str) -> RowError:
    return RowError(
        sheet.name,
        1,
        "-",
        _("sheet %(name)s (%(zh)s) is missing from %(where)s")
        % {"name": sheet.name, "zh": sheet.zh, "where": where},
    )


def _read_xlsx(data: bytes, result: SourceFrames) -> None:
    workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
    by_name = {}
    for name in workbook.sheet_names:
        found = _sheet_for_name(name)
        if found and found.name not in by_name:
            by_name[found.name] = name
    for sheet in SHEETS:
        if sheet.name not in by_name:
            result.errors.append(_missing_sheet(sheet, _("the workbook")))
            continue
        frame = read_xlsx_sheet(sheet, workbook, by_name[sheet.name], result.errors, result.absent)
        if frame is not None:
            result.frames[sheet.name] = frame


def _read_csv_files(files: dict[str, bytes], result: SourceFrames, where: str) -> None:
    for sheet in SHEETS:
        if sheet.name not in files:
            result.errors.append(_missing_sheet(sheet, where))
            continue
        frame = read_csv_sheet(sheet, files[sheet.name], result.errors, result.absent)
        if frame is not None:
            result.frames[sheet.name] = frame


def _csv_members(names: Iterable[str]) -> dict[str, str]:
    found: dict[str, str] = {}
    for name in sorted(names):
        if name.startswith("__MACOSX/") or name.endswith("/"):
            continue
        sheet = _sheet_for_name(name)
        if sheet and name.lower().endswith((".csv", ".txt")) and sheet.name not in found:
            found[sheet.name] = name
    return found


def read_source(source: Path | BinaryIO) -> SourceFrames:
    """Read an .xlsx, a .zip of CSVs or a folder of CSVs (a BinaryIO: .xlsx or .zip)."""
    result = SourceFrames()
    if isinstance(source, Path) and source.is_dir():
        found = _csv_members(p.name for p in source.iterdir())
        files = {sheet: (source / name).read_bytes() for sheet, name in found.items()}
        digest = hashlib.sha256()
        for sheet in sorted(files):
            digest.update(sheet.encode() + b"\0" + hashlib.sha256(files[sheet]).digest())
        result.sha256 = digest.hexdigest()
        _read_csv_files(files, result, _("the folder"))
        return result
    data = source.read_bytes() if isinstance(source, Path) else source.read()
    result.sha256 = hashlib.sha256(data).hexdigest()
    if not zipfile.is_zipfile(io.BytesIO(data)):
        result.errors.append(
            RowError(
                "loans",
                1,
                "-",
                _("not an .xlsx workbook, a .zip of CSV files or a folder of CSV files"),
            )
        )
        return result
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if "xl/workbook.xml" in names:
            _read_xlsx(data, result)
            return result
        files = {sheet: archive.read(name) for sheet, name in _csv_members(names).items()}
    _read_csv_files(files, result, _("the zip file"))
    return result

"""A bad cell in an import file, reported as ``SHEET:ROW:COLUMN: reason``."""

from __future__ import annotations

from dataclasses import dataclass

from cuishou.portfolio.importer.columns import COLUMN_ORDER, SHEET_ORDER


@dataclass(frozen=True)
class RowError:
    """``row`` is the spreadsheet row a person sees (header = 1, first data row = 2).
    ``column`` is the English column name, or ``-`` for a problem with the whole sheet."""

    sheet: str
    row: int
    column: str
    reason: str

    def __str__(self) -> str:
        return f"{self.sheet}:{self.row}:{self.column}: {self.reason}"

    def sort_key(self) -> tuple[int, int, int, str]:
        return (
            SHEET_ORDER.get(self.sheet, 99),
            self.row,
            COLUMN_ORDER.get((self.sheet, self.column), -1),
            self.reason,
        )


def sorted_errors(errors: list[RowError]) -> list[RowError]:
    return sorted(set(errors), key=RowError.sort_key)

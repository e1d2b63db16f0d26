"""Portfolio import: one file (xlsx, zip of CSVs, folder of CSVs) → the portfolio tables.

Modules: ``reader`` (file → Polars frames of strings with source row numbers),
``validate`` (pure Polars: clean frames and ``RowError``s), ``writer`` (set-based SQL
through the open connection), ``service`` (``import_portfolio``: the orchestration).

Choices made here:

- All or nothing: any bad row and nothing is written; every bad cell is reported as
  ``SHEET:ROW:COLUMN: reason`` (row = the spreadsheet row a person sees). The
  ``ImportRun`` is written in any case (rejected, dry run, committed, failed).
- Identity: a debtor is its ID number (global). When a file names an ID number that is
  already a debtor under another name or mobile, the file wins and the debtor is
  updated; within one file the last row for an ID number wins.
- A later file updates the contracts it names. A contract listed in the installments
  sheet gets exactly the file's schedule (periods no longer listed are removed).
  Contacts, related persons and addresses are only added or corrected, never removed:
  collectors learn numbers and addresses that the creditor's file does not have.
- Audit: one ``portfolio.import`` event per committed import (the ImportRun, the file's
  SHA-256 and the counts) covers every row it created; one ``loan.update`` event per
  existing contract the file changes, with before/after of just the changed fields
  (schedule changes under ``installments`` by period). Changes are found set-based
  before writing, so an unchanged re-import writes no ``loan.update`` event.
- Dry run: the whole write runs and is rolled back, so the counts are exactly what a
  real import would do; only the ImportRun (status ``dry_run``) stays.
- New products get the client's default terms and ``needs_review=True``.
"""

from cuishou.portfolio.importer.errors import RowError
from cuishou.portfolio.importer.service import ImportResult, import_portfolio

__all__ = ["ImportResult", "RowError", "import_portfolio"]

"""``import_portfolio``: read → validate → write, all or nothing, recorded as an ImportRun."""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from django.db import DatabaseError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from cuishou.audit.services import AuditEntry, actor_parts, audit_record_many
from cuishou.core.timeutil import today_shanghai
from cuishou.portfolio.choices import ImportStatus
from cuishou.portfolio.importer.errors import RowError
from cuishou.portfolio.importer.reader import read_source
from cuishou.portfolio.importer.validate import Validated, validate_frames
from cuishou.portfolio.importer.writer import LoanChange, PortfolioWriter
from cuishou.portfolio.models import Client, ImportRun, Loan, Product

logger = logging.getLogger(__name__)

#: Counts that mean "the database changed"; all zero on an unchanged re-import.
CHANGE_COUNTS = (
    "debtors_created",
    "debtors_updated",
    "loans_created",
    "loans_updated",
    "installments_written",
    "installments_removed",
    "related_persons_created",
    "contact_points_written",
    "addresses_written",
    "products_created",
    "opt_outs_recorded",
)


@dataclass
class ImportResult:
    run: ImportRun
    errors: list[RowError] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    new_products: list[str] = field(default_factory=list)
    changed_contracts: list[str] = field(default_factory=list)
    #: Seconds spent per phase (read, validate, write, commit), for benchmarks and logs.
    timings: dict[str, float] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors and self.run.status in {
            ImportStatus.COMMITTED,
            ImportStatus.DRY_RUN,
        }

    @property
    def unchanged(self) -> bool:
        return self.ok and not any(self.counts.get(k, 0) for k in CHANGE_COUNTS)

    def report_text(self) -> str:
        """The bad rows one per line; or, when the import went through, a summary."""
        if self.errors:
            return "\n".join(str(e) for e in self.errors)
        c = self.counts
        lines = []
        if self.run.status == ImportStatus.DRY_RUN:
            lines.append(_("Dry run: the file is valid; nothing was written."))
        lines.append(
            _(
                "Rows read: %(loans)d loans, %(inst)d installments, %(contacts)d contacts, "
                "%(addr)d addresses."
            )
            % {
                "loans": c.get("rows_loans", 0),
                "inst": c.get("rows_installments", 0),
                "contacts": c.get("rows_contacts", 0),
                "addr": c.get("rows_addresses", 0),
            }
        )
        if self.unchanged:
            lines.append(_("Nothing changed: the stored portfolio already matches this file."))
        else:
            lines.append(
                _(
                    "Loans: %(lc)d created, %(lu)d updated. Debtors: %(dc)d created, "
                    "%(du)d updated. Installments: %(iw)d created or changed, %(ir)d removed. "
                    "Related persons: %(rp)d created. Contact points: %(cp)d created or "
                    "changed. Addresses: %(ad)d created or changed."
                )
                % {
                    "lc": c.get("loans_created", 0),
                    "lu": c.get("loans_updated", 0),
                    "dc": c.get("debtors_created", 0),
                    "du": c.get("debtors_updated", 0),
                    "iw": c.get("installments_written", 0),
                    "ir": c.get("installments_removed", 0),
                    "rp": c.get("related_persons_created", 0),
                    "cp": c.get("contact_points_written", 0),
                    "ad": c.get("addresses_written", 0),
                }
            )
        if c.get("opt_outs_recorded"):
            lines.append(
                _("Opt-outs recorded from the file: %(n)d.") % {"n": c["opt_outs_recorded"]}
            )
        if self.new_products:
            lines.append(
                _("New products created with the client's default terms, to review: %(names)s")
                % {"names": ", ".join(self.new_products)}
            )
        lines.append(_("Import run: %(id)s") % {"id": self.run.pk})
        return "\n".join(lines)


class _DryRunRollbackError(Exception):
    """Raised inside the write transaction of a dry run to undo everything."""


def _known_contracts(client: Client) -> Any:
    def known(numbers: list[str]) -> set[str]:
        found: set[str] = set()
        for start in range(0, len(numbers), 500):
            chunk = numbers[start : start + 500]
            found.update(
                Loan.objects.filter(client=client, contract_no__in=chunk).values_list(
                    "contract_no", flat=True
                )
            )
        return found

    return known


def _create_products(client: Client, names: list[str]) -> list[str]:
    existing = set(Product.objects.filter(client=client).values_list("name", flat=True))
    new = sorted(set(names) - existing)
    Product.objects.bulk_create(
        [
            Product(
                client=client,
                name=name,
                annual_rate=client.default_annual_rate,
                penalty_annual_rate=client.default_penalty_annual_rate,
                day_count_basis=client.default_day_count_basis,
                grace_days=client.default_grace_days,
                annual_cost_cap=client.default_annual_cost_cap,
                needs_review=True,
            )
            for name in new
        ]
    )
    return new


def _audit_entries(
    run: ImportRun,
    sha256: str,
    counts: dict[str, int],
    new_products: list[str],
    changes: dict[int, LoanChange],
    opt_outs: list[tuple[int, int, str]],
) -> list[AuditEntry]:
    entries = [
        AuditEntry(
            action="portfolio.import",
            object_type="portfolio.importrun",
            object_id=str(run.pk),
            summary=f"{run.client.code} {run.file_name}",
            after={"file_sha256": sha256, "counts": counts, "new_products": new_products},
        )
    ]
    for change in sorted(changes.values(), key=lambda c: c.contract_no):
        entries.append(
            AuditEntry(
                action="loan.update",
                object_type="portfolio.loan",
                object_id=str(change.loan_id),
                summary=f"{run.client.code} {change.contract_no} (import {run.pk})",
                before=change.before,
                after=change.after,
            )
        )
    for consent_id, point_id, channel in opt_outs:
        entries.append(
            AuditEntry(
                action="contact.opt_out",
                object_type="portfolio.contactpoint",
                object_id=str(point_id),
                summary=f"{channel} withdrawn (import {run.pk})",
                after={
                    "consent_id": consent_id,
                    "channel": channel,
                    "state": "withdrawn",
                    "source": "import",
                },
            )
        )
    return entries


def _write(
    *,
    run: ImportRun,
    client: Client,
    valid: Validated,
    sha256: str,
    actor: Any,
    absent_loan_columns: frozenset[str] = frozenset(),
) -> tuple[dict[str, int], list[str], list[str]]:
    """The write transaction's body: products, staging, change detection, upserts, audit."""
    assert valid.loans is not None and valid.debtors is not None
    assert valid.installments is not None and valid.contacts is not None
    assert valid.addresses is not None
    Client.objects.select_for_update().filter(pk=client.pk).first()
    new_products = _create_products(client, valid.loans["product"].unique().to_list())
    writer = PortfolioWriter(client_id=client.pk, run_id=run.pk)
    writer.stage_all(
        loans=valid.loans,
        debtors=valid.debtors,
        installments=valid.installments,
        contacts=valid.contacts,
        addresses=valid.addresses,
        keep_loan_columns=absent_loan_columns,
    )
    changes = writer.loan_changes() if writer.existing_contracts() else {}
    counts = {f"rows_{k}": v for k, v in valid.rows.items()}
    counts.update(writer.write())
    counts["products_created"] = len(new_products)
    opt_outs = writer.opt_outs_written() if counts.get("opt_outs_recorded") else []
    writer.drop_stages()
    audit_record_many(
        actor=actor,
        entries=_audit_entries(run, sha256, counts, new_products, changes, opt_outs),
    )
    return counts, new_products, sorted(c.contract_no for c in changes.values())


def import_portfolio(
    *,
    client: Client,
    source: Path | BinaryIO,
    file_name: str,
    actor: Any,
    dry_run: bool = False,
    today: dt.date | None = None,
) -> ImportResult:
    """Import a portfolio file for ``client``: all of it, or (any bad row) nothing.

    ``source`` is a path to an .xlsx, a .zip of CSVs or a folder of CSVs, or an open
    binary file (.xlsx or .zip). The ImportRun is saved in any case, outside the data
    transaction, so rejected and dry runs are on record too."""
    user_id, label = actor_parts(actor)
    run = ImportRun.objects.create(
        client=client,
        actor_id=user_id,
        actor_label=label,
        file_name=file_name[:255],
        file_sha256="",
        dry_run=dry_run,
    )
    result = ImportResult(run=run)
    clock = time.perf_counter()
    source_frames = read_source(source)
    result.timings["read"] = time.perf_counter() - clock
    run.file_sha256 = source_frames.sha256
    errors = source_frames.errors
    valid: Validated | None = None
    if not errors:
        valid = validate_frames(
            source_frames.frames,
            today=today or today_shanghai(),
            known_contracts=_known_contracts(client),
        )
        errors = valid.errors
        result.counts = {f"rows_{k}": v for k, v in valid.rows.items()}
        result.timings["validate"] = time.perf_counter() - clock - result.timings["read"]
    result.errors = errors
    if errors or valid is None:
        return _finish(result, ImportStatus.REJECTED)
    clock = time.perf_counter()
    try:
        with transaction.atomic():
            counts, new_products, changed = _write(
                run=run,
                client=client,
                valid=valid,
                sha256=source_frames.sha256,
                actor=actor,
                absent_loan_columns=source_frames.absent.get("loans", frozenset()),
            )
            result.timings["write"] = time.perf_counter() - clock
            result.counts, result.new_products, result.changed_contracts = (
                counts,
                new_products,
                changed,
            )
            if dry_run:
                raise _DryRunRollbackError
            _finish(result, ImportStatus.COMMITTED)
    except _DryRunRollbackError:
        return _finish(result, ImportStatus.DRY_RUN)
    except DatabaseError as exc:  # a constraint the validation did not foresee
        logger.exception("portfolio import %s failed", run.pk)
        result.errors = [
            RowError("loans", 1, "-", _("the database refused the import: %(e)s") % {"e": exc})
        ]
        return _finish(result, ImportStatus.FAILED)
    result.timings["commit"] = time.perf_counter() - clock - result.timings["write"]
    return result


def _finish(result: ImportResult, status: str) -> ImportResult:
    run = result.run
    run.status = status
    run.finished_at = timezone.now()
    run.counts = {**result.counts, "new_products": result.new_products}
    run.error_count = len(result.errors)
    run.report = result.report_text()
    run.save(
        update_fields=[
            "status",
            "finished_at",
            "counts",
            "error_count",
            "report",
            "file_sha256",
        ]
    )
    return result

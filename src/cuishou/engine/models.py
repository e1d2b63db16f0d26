"""What the nightly run keeps: its own record, the daily case snapshots, and the marks
that tell it which past days a backdated change touched."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.cases.choices import Stage
from cuishou.core.models import MoneyField
from cuishou.engine.choices import RunStatus
from cuishou.portfolio.choices import Bucket


class BatchRun(models.Model):
    """One ``cuishou batch``: as of which date, which days it replayed, how it ended."""

    as_of = models.DateField(_("as of"))
    date_from = models.DateField(
        _("replayed from"),
        null=True,
        blank=True,
        help_text=_("First day whose history this run rewrote; empty when only as of."),
    )
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
        help_text=_("Empty when the run covered every client."),
    )
    shards = models.PositiveSmallIntegerField(_("shards"), default=1)
    status = models.CharField(
        _("status"), max_length=16, choices=RunStatus.choices, default=RunStatus.RUNNING
    )
    actor_label = models.CharField(_("started by"), max_length=150, blank=True)
    host = models.CharField(_("host"), max_length=100, blank=True)
    pid = models.PositiveIntegerField(_("process id"), null=True, blank=True)
    started_at = models.DateTimeField(_("started at"))
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    bucket_counts = models.JSONField(_("loans per bucket"), default=dict, blank=True)
    errors = models.TextField(_("errors"), blank=True)

    class Meta:
        verbose_name = _("batch run")
        verbose_name_plural = _("batch runs")
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["status", "as_of"], name="batchrun_status_idx")]

    def __str__(self) -> str:
        return f"{self.as_of} ({self.get_status_display()})"


class CaseSnapshot(models.Model):
    """One row per open case per day: what roll-rate and recovery analytics read.

    Keyed by (day, case), so a day's rows are one index range. Amounts are the case's
    (all the debtor's loans with the client)."""

    pk = models.CompositePrimaryKey("as_of", "case")
    as_of = models.DateField(_("date"))
    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        on_delete=models.CASCADE,
        related_name="snapshots",
        db_index=False,
    )
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    bucket = models.CharField(_("bucket"), max_length=3, choices=Bucket.choices)
    dpd = models.IntegerField(_("days past due"))
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)
    overdue_amount = MoneyField(_("overdue amount"))
    balance = MoneyField(_("outstanding balance"))

    class Meta:
        verbose_name = _("case snapshot")
        verbose_name_plural = _("case snapshots")
        indexes = [models.Index(fields=["case", "as_of"], name="snapshot_case_idx")]

    def __str__(self) -> str:
        return f"{self.as_of} #{self.case_id} {self.bucket}"


class RecomputeMark(models.Model):
    """A change that reaches back in time (a backdated payment, a reversal, a pause):
    the next run rewrites the debtor's history from ``from_date``."""

    # Indexed by (client, debtor, from date) below, which serves every lookup by client.
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    # Nothing looks marks up by debtor alone (a debtor's deletion scans this short-lived
    # table): a statement's posting adds tens of thousands, in no order of debtor.
    debtor = models.ForeignKey(
        "portfolio.Debtor",
        verbose_name=_("debtor"),
        on_delete=models.CASCADE,
        related_name="+",
        db_index=False,
    )
    from_date = models.DateField(_("from"))
    reason = models.CharField(_("reason"), max_length=200)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("recompute mark")
        verbose_name_plural = _("recompute marks")
        ordering = ["from_date", "id"]
        # A history replay asks, for every loan in scope, whether its debtor is marked.
        indexes = [
            models.Index(fields=["client", "debtor", "from_date"], name="recomputemark_debtor_idx")
        ]

    def __str__(self) -> str:
        return f"{self.debtor_id}/{self.client_id} from {self.from_date}"

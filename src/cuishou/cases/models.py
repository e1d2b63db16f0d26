"""案件: one collection file per delinquent debtor and client."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.cases.choices import CaseStatus, Stage
from cuishou.core.models import MoneyField, TimeStampedModel
from cuishou.portfolio.choices import Bucket


class Case(TimeStampedModel):
    client = models.ForeignKey(
        "portfolio.Client", verbose_name=_("client"), on_delete=models.PROTECT, related_name="cases"
    )
    debtor = models.ForeignKey(
        "portfolio.Debtor", verbose_name=_("debtor"), on_delete=models.PROTECT, related_name="cases"
    )
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices, default=Stage.PHONE)
    stage_set_by_hand = models.BooleanField(
        _("stage set by hand"),
        default=False,
        help_text=_("The nightly run never moves a hand-set stage backwards silently."),
    )
    stage_set_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("stage set by"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    stage_set_at = models.DateTimeField(_("stage set at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CaseStatus.choices, default=CaseStatus.OPEN
    )
    status_reason = models.CharField(_("status reason"), max_length=200, blank=True)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
    )
    bucket = models.CharField(_("bucket"), max_length=3, choices=Bucket.choices, default="M0")
    dpd = models.IntegerField(_("days past due"), default=0)
    overdue_amount = MoneyField(_("overdue amount"))
    penalty = MoneyField(_("penalty interest"))
    balance = MoneyField(_("outstanding balance"))
    computed_as_of = models.DateField(_("computed as of"), null=True, blank=True)
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)

    class Meta:
        verbose_name = _("case")
        verbose_name_plural = _("cases")
        ordering = ["-balance", "id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "debtor"], name="case_unique_debtor_client")
        ]
        indexes = [
            models.Index(fields=["status", "bucket"], name="case_status_bucket_idx"),
            models.Index(fields=["assignee", "status"], name="case_assignee_idx"),
        ]
        permissions = [
            ("view_all_cases", _("Can see every case, not only assigned ones")),
            ("view_team_cases", _("Can see the cases of the teams one leads")),
            ("reveal_pii", _("Can reveal ID numbers and phone numbers (audited)")),
        ]

    def __str__(self) -> str:
        return f"#{self.pk} {self.debtor_id}/{self.client_id}"


class StageRule(models.Model):
    """One row of a client's strategy table: the stage a case in this bucket is at.

    A client without rules uses the default ladder (M1 phone, M2 written, M3 visit, M4+
    legal); a client with rules uses them, and a bucket it has no rule for keeps the
    default ladder's stage."""

    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="stage_rules",
    )
    bucket = models.CharField(_("bucket"), max_length=3, choices=Bucket.choices)
    stage = models.CharField(_("stage"), max_length=16, choices=Stage.choices)

    class Meta:
        verbose_name = _("stage rule")
        verbose_name_plural = _("stage rules")
        ordering = ["client", "bucket"]
        constraints = [
            models.UniqueConstraint(fields=["client", "bucket"], name="stage_rule_unique_bucket")
        ]

    def __str__(self) -> str:
        return f"{self.bucket} → {self.get_stage_display()}"

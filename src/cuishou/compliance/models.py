"""Holds: periods in which nobody contacts a debtor about a case (bankruptcy, litigation)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _


class HoldKind(models.TextChoices):
    BANKRUPTCY = "bankruptcy", _("Bankruptcy (破产)")
    LITIGATION = "litigation", _("Litigation (诉讼中)")
    OTHER = "other", _("Other hold")


class ContactHold(models.Model):
    """No contact of any channel on the case from ``starts_on`` to ``ends_on`` (open:
    until lifted). Placed and lifted by risk, legal and compliance staff, audited."""

    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="holds"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=HoldKind.choices)
    reason = models.CharField(_("reason"), max_length=200)
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("contact hold")
        verbose_name_plural = _("contact holds")
        ordering = ["-starts_on", "-id"]
        indexes = [models.Index(fields=["case", "starts_on"], name="hold_case_idx")]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="hold_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.starts_on}"


class ClientRule(models.Model):
    """A client's stricter setting of one rule of its policy pack: the parameters it sets
    (e.g. ``{"from": "21:00"}`` for the quiet hours). Never looser than the pack:
    ``clean`` refuses that, naming the parameter."""

    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="compliance_rules",
    )
    rule_id = models.CharField(_("rule"), max_length=64)
    params = models.JSONField(_("parameters"), default=dict)
    note = models.CharField(_("why"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("stricter client rule")
        verbose_name_plural = _("stricter client rules")
        ordering = ["client", "rule_id"]
        constraints = [
            models.UniqueConstraint(fields=["client", "rule_id"], name="client_rule_unique")
        ]

    def __str__(self) -> str:
        return f"{self.client_id} {self.rule_id}"

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        from cuishou.compliance.packs import pack_get, stricter_errors

        if self.client_id is None:
            return
        pack = pack_get(self.client.policy_pack)
        rule = pack.rule(self.rule_id)
        if rule is None:
            raise ValidationError(
                {
                    "rule_id": _("The %(pack)s pack has no rule %(rule)s.")
                    % {"pack": pack.code, "rule": self.rule_id}
                }
            )
        if problems := stricter_errors(rule, self.params):
            raise ValidationError({"params": problems})

"""Holds: periods in which nobody contacts a debtor about a case (bankruptcy, litigation).
Stricter client rules. Overrides: a rule the pack allows to be lifted, lifted on one case
for a window, with a reason and a compliance officer's approval."""

from __future__ import annotations

import datetime as dt

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


class OverrideStatus(models.TextChoices):
    REQUESTED = "requested", _("Waiting for approval")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class ComplianceOverride(models.Model):
    """One rule of the case's pack lifted on one case, from its approval (``valid_from``)
    until ``valid_until`` — the end of the debtor's local day of the request, at most 24
    hours after it. Only a rule the pack marks overridable; requested with a reason by a
    person who works the case, approved or rejected by a compliance officer who is not the
    requester (``compliance.overrides``). Every contact allowed under it counts a use."""

    case = models.ForeignKey(
        "cases.Case",
        verbose_name=_("case"),
        on_delete=models.PROTECT,
        related_name="compliance_overrides",
    )
    rule_id = models.CharField(_("rule"), max_length=64)
    reason = models.CharField(_("reason"), max_length=500)
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=OverrideStatus.choices,
        default=OverrideStatus.REQUESTED,
    )
    requested_at = models.DateTimeField(_("requested at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decision_note = models.CharField(_("decision note"), max_length=500, blank=True)
    valid_from = models.DateTimeField(_("in force from"), null=True, blank=True)
    valid_until = models.DateTimeField(_("in force until"))
    uses = models.PositiveIntegerField(_("contacts made under it"), default=0)
    last_used_at = models.DateTimeField(_("last used at"), null=True, blank=True)

    class Meta:
        verbose_name = _("compliance override")
        verbose_name_plural = _("compliance overrides")
        ordering = ["-requested_at", "-id"]
        indexes = [
            models.Index(fields=["case", "rule_id", "valid_until"], name="override_case_rule_idx"),
            models.Index(fields=["status", "requested_at"], name="override_status_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(reason=""), name="override_has_reason"),
            models.CheckConstraint(
                condition=models.Q(decided_by__isnull=True)
                | ~models.Q(decided_by=models.F("requested_by")),
                name="override_second_person",
            ),
            models.CheckConstraint(
                condition=~models.Q(status="approved")
                | models.Q(decided_by__isnull=False, valid_from__isnull=False),
                name="override_approved_has_window",
            ),
            models.CheckConstraint(
                condition=models.Q(valid_from__isnull=True)
                | models.Q(valid_until__gt=models.F("valid_from")),
                name="override_window_order",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.rule_id} {self.status}"

    def in_force_at(self, at: dt.datetime) -> bool:
        return (
            self.status == OverrideStatus.APPROVED
            and self.valid_from is not None
            and self.valid_from <= at < self.valid_until
        )

    def state_at(self, at: dt.datetime) -> str:
        """What a person reads: waiting, in force, ended, expired (never decided in time)
        or rejected."""
        if self.status == OverrideStatus.REJECTED:
            return str(_("Rejected"))
        if at >= self.valid_until:
            return str(_("Ended") if self.status == OverrideStatus.APPROVED else _("Expired"))
        if self.status == OverrideStatus.APPROVED:
            return str(_("In force"))
        return str(_("Waiting for approval"))

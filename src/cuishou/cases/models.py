"""案件: one collection file per delinquent debtor and client."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.accounts.choices import Role
from cuishou.cases.cadence import cadence_errors
from cuishou.cases.choices import (
    Arm,
    CaseStatus,
    Channel,
    Closure,
    DisputeStatus,
    HandOverStatus,
    InstallmentStatus,
    Outcome,
    Party,
    PlanCovers,
    PlanStatus,
    PromiseStatus,
    RequestKind,
    RequestStatus,
    SettlementStatus,
    Stage,
    Target,
    WaivedComponent,
)
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
    # No separate index: case_assignee_idx (assignee, status) serves lookups by assignee.
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("assignee"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="assigned_cases",
        db_index=False,
    )
    bucket = models.CharField(_("bucket"), max_length=3, choices=Bucket.choices, default="M0")
    dpd = models.IntegerField(_("days past due"), default=0)
    overdue_amount = MoneyField(_("overdue amount"))
    penalty = MoneyField(_("penalty interest"))
    balance = MoneyField(_("outstanding balance"))
    computed_as_of = models.DateField(_("computed as of"), null=True, blank=True)
    assignment_pinned = models.BooleanField(
        _("assignment set by hand"),
        default=False,
        db_default=False,
        help_text=_("Allocation leaves a case given to someone by hand where it is."),
    )
    strategy = models.ForeignKey(
        "cases.Strategy",
        verbose_name=_("strategy"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="cases",
    )
    strategy_arm = models.CharField(
        _("strategy arm"),
        max_length=16,
        choices=Arm.choices,
        blank=True,
        default="",
        db_default="",
    )
    opened_on = models.DateField(_("opened on"))
    closed_on = models.DateField(_("closed on"), null=True, blank=True)
    closure = models.CharField(
        _("closed as"),
        max_length=16,
        choices=Closure.choices,
        blank=True,
        default="",
        db_default="",
    )

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
            ("allocate_cases", _("Can allocate cases to collectors")),
            ("close_case", _("Can close cases (settled, returned, paid in full)")),
            ("approve_write_off", _("Can approve writing a case off")),
            ("approve_deescalation", _("Can approve moving a case to an earlier stage")),
            ("agree_plan", _("Can agree a repayment plan with a debtor")),
            ("request_settlement", _("Can ask for a settlement (discount) on a case")),
            ("approve_settlement", _("Can approve a settlement within the role's limit")),
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


class ContactAttempt(models.Model):
    """催收记录: one call, SMS, e-mail, letter or visit stop, with its outcome."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="contact_attempts"
    )
    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    contact_point = models.ForeignKey(
        "portfolio.ContactPoint",
        verbose_name=_("contact point"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
        help_text=_("The number or address used (none for a visit or a letter)."),
    )
    party = models.CharField(_("who was reached"), max_length=8, choices=Party.choices)
    related_person = models.ForeignKey(
        "portfolio.RelatedPerson",
        verbose_name=_("related person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="attempts",
    )
    outcome = models.CharField(_("outcome"), max_length=16, choices=Outcome.choices)
    notes = models.TextField(_("notes"), blank=True)
    next_follow_up_at = models.DateTimeField(_("next follow-up"), null=True, blank=True)
    attempted_at = models.DateTimeField(_("attempted at"))
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collector"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    compliance_rules = models.JSONField(
        _("compliance rules"),
        default=list,
        blank=True,
        help_text=_("The rules the compliance check applied when it allowed this contact."),
    )

    class Meta:
        verbose_name = _("contact attempt")
        verbose_name_plural = _("contact attempts")
        ordering = ["-attempted_at", "-id"]
        indexes = [
            models.Index(fields=["case", "-attempted_at"], name="attempt_case_idx"),
            models.Index(fields=["actor", "next_follow_up_at"], name="attempt_follow_up_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.channel} {self.outcome}"


class PromiseToPay(models.Model):
    """承诺还款: an amount (in one or more instalments) the debtor promised; the nightly run
    decides kept or broken from the payments on the case's loans."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="promises"
    )
    contact_attempt = models.ForeignKey(
        ContactAttempt,
        verbose_name=_("contact attempt"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="promises",
    )
    promised_on = models.DateField(
        _("promised on"), help_text=_("Payments from this day on count towards the promise.")
    )
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"), max_length=16, choices=PromiseStatus.choices, default=PromiseStatus.PENDING
    )
    decided_as_of = models.DateField(_("decided as of"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("taken by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("promise to pay")
        verbose_name_plural = _("promises to pay")
        ordering = ["-promised_on", "-id"]
        indexes = [models.Index(fields=["status", "case"], name="promise_status_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.amount}"


class PromiseInstalment(models.Model):
    """One dated amount of a promise. Kept when the payments from the promise's day
    through this due date cover every instalment up to this one; broken when its day has
    passed without that."""

    promise = models.ForeignKey(
        PromiseToPay,
        verbose_name=_("promise"),
        on_delete=models.CASCADE,
        related_name="instalments",
    )
    seq = models.PositiveSmallIntegerField(_("instalment"))
    due_on = models.DateField(_("due on"))
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"), max_length=16, choices=PromiseStatus.choices, default=PromiseStatus.PENDING
    )
    paid_amount = MoneyField(
        _("paid towards it"), help_text=_("Payments counted for this instalment when decided.")
    )

    class Meta:
        verbose_name = _("promise instalment")
        verbose_name_plural = _("promise instalments")
        ordering = ["promise", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["promise", "seq"], name="promise_instalment_seq"),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="promise_instalment_positive"
            ),
        ]
        indexes = [models.Index(fields=["due_on"], name="promise_instalment_due_idx")]

    def __str__(self) -> str:
        return f"{self.promise_id}#{self.seq} {self.amount} {self.due_on}"


class Dispute(models.Model):
    """异议: the debtor contests the debt. Collection on the case pauses until resolved."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="disputes"
    )
    contact_attempt = models.ForeignKey(
        ContactAttempt,
        verbose_name=_("contact attempt"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="disputes",
    )
    reason = models.TextField(_("what the debtor disputes"))
    status = models.CharField(
        _("status"), max_length=16, choices=DisputeStatus.choices, default=DisputeStatus.OPEN
    )
    opened_at = models.DateTimeField(_("opened at"))
    opened_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("opened by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    resolution = models.TextField(_("resolution"), blank=True)
    resolved_at = models.DateTimeField(_("resolved at"), null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("resolved by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("dispute")
        verbose_name_plural = _("disputes")
        ordering = ["-opened_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_status_display()}"


class CollectorProfile(models.Model):
    """What allocation needs to know of a collector: how many open cases they can carry
    and which cases they can work (empty lists: any)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("collector"),
        on_delete=models.CASCADE,
        related_name="collector_profile",
    )
    capacity = models.PositiveIntegerField(_("capacity (open cases)"), default=400)
    buckets = models.JSONField(
        _("buckets"), default=list, blank=True, help_text=_('e.g. ["M1", "M2"]; empty: any')
    )
    languages = models.JSONField(
        _("languages"),
        default=list,
        blank=True,
        help_text=_('Languages besides Mandarin, e.g. ["yue", "en"].'),
    )
    clients = models.ManyToManyField(
        "portfolio.Client",
        verbose_name=_("clients"),
        blank=True,
        related_name="+",
        help_text=_("Empty: any client."),
    )
    stages = models.JSONField(
        _("stages"),
        default=list,
        blank=True,
        help_text=_('Stages worked, e.g. ["phone", "written"]; empty: any'),
    )
    active = models.BooleanField(_("takes new cases"), default=True)

    class Meta:
        verbose_name = _("collector profile")
        verbose_name_plural = _("collector profiles")

    def __str__(self) -> str:
        return str(self.user)


class ApprovalRequest(models.Model):
    """A change to a case that needs somebody else's approval (de-escalation, write-off)."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="approval_requests"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=RequestKind.choices)
    stage = models.CharField(_("requested stage"), max_length=16, choices=Stage.choices, blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=RequestStatus.choices, default=RequestStatus.PENDING
    )
    requested_at = models.DateTimeField(_("requested at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
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
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("approval request")
        verbose_name_plural = _("approval requests")
        ordering = ["-requested_at", "-id"]
        indexes = [models.Index(fields=["status", "kind"], name="approval_status_idx")]

    def __str__(self) -> str:
        return f"{self.case_id} {self.kind} {self.status}"


class HandOver(models.Model):
    """A case escalated to the people who take it from there (``VisitRequest``,
    ``LegalReview``), with the reason and who asked."""

    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=HandOverStatus.choices, default=HandOverStatus.OPEN
    )
    created_at = models.DateTimeField(_("created at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        abstract = True
        ordering = ["-created_at", "-id"]


class VisitRequest(HandOver):
    """A case escalated to a field visit, waiting for the risk department to issue it."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="visit_requests"
    )

    class Meta(HandOver.Meta):
        verbose_name = _("visit request")
        verbose_name_plural = _("visit requests")

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_status_display()}"


class LegalReview(HandOver):
    """A case escalated to legal, waiting for the legal officer's review."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="legal_reviews"
    )

    class Meta(HandOver.Meta):
        verbose_name = _("legal review")
        verbose_name_plural = _("legal reviews")

    def __str__(self) -> str:
        return f"{self.case_id} {self.get_status_display()}"


class CaseArchive(models.Model):
    """The case file as it stood when the case was closed, with its SHA-256."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="archives"
    )
    closure = models.CharField(_("closed as"), max_length=16, choices=Closure.choices)
    created_at = models.DateTimeField(_("archived at"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    content = models.JSONField(_("case file"))

    class Meta:
        verbose_name = _("case archive")
        verbose_name_plural = _("case archives")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.case_id} {self.sha256[:12]}"


class Strategy(models.Model):
    """A client's collection strategy: which cases it takes (bucket, balance band,
    product, segment) and what to do with them (channel ladder, cadence, target, escalation). The
    first matching strategy in order wins. A strategy may have a challenger variant that
    a random, recorded share of new cases gets instead, so the two can be compared."""

    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="strategies",
    )
    name = models.CharField(_("name"), max_length=100)
    position = models.PositiveIntegerField(_("order"), default=0)
    active = models.BooleanField(_("active"), default=True)
    buckets = models.JSONField(_("buckets"), default=list, blank=True)
    balance_min = MoneyField(_("balance from"), null=True, blank=True, default=None)
    balance_max = MoneyField(_("balance below"), null=True, blank=True, default=None)
    products = models.ManyToManyField(
        "portfolio.Product", verbose_name=_("products"), blank=True, related_name="+"
    )
    segments = models.JSONField(
        _("segments"),
        default=list,
        blank=True,
        help_text=_('The loans\' segments (客群) it takes, e.g. ["新客", "高风险"]; empty: any.'),
    )
    channel_ladder = models.JSONField(
        _("channel ladder"),
        default=list,
        blank=True,
        help_text=_('Channels in order, e.g. ["call", "sms", "letter"].'),
    )
    cadence = models.JSONField(
        _("cadence"),
        default=dict,
        blank=True,
        help_text=_('e.g. {"call_every_days": 2, "sms_on_days": [1, 7]}'),
    )
    target = models.CharField(
        _("target"), max_length=16, choices=Target.choices, default=Target.PROMISE
    )
    escalate_after_days = models.PositiveIntegerField(
        _("escalate after (days without a result)"), null=True, blank=True
    )
    escalate_to = models.CharField(
        _("escalate to"), max_length=16, choices=Stage.choices, blank=True
    )
    challenger_of = models.ForeignKey(
        "self",
        verbose_name=_("challenger of"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="challengers",
        help_text=_("Set on a challenger: the champion strategy it is compared with."),
    )
    challenger_share = models.PositiveSmallIntegerField(
        _("share of new cases (%)"),
        default=0,
        help_text=_("On a challenger: the percentage of the champion's new cases it gets."),
    )

    class Meta:
        verbose_name = _("strategy")
        verbose_name_plural = _("strategies")
        ordering = ["client", "position", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(challenger_share__lte=100), name="strategy_share_percent"
            )
        ]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Refuse what the nightly run could not act on, naming the field."""
        errors: dict[str, list[Any]] = {}

        def strings(value: object) -> list[str] | None:
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                return None
            return value

        buckets = strings(self.buckets)
        if buckets is None or set(buckets) - set(Bucket.values):
            errors["buckets"] = [
                _("A list of buckets out of %(buckets)s.") % {"buckets": ", ".join(Bucket.values)}
            ]
        segments = strings(self.segments)
        if segments is None or any(not s.strip() or len(s) > 32 for s in segments):
            errors["segments"] = [_("A list of segment names, each 1 to 32 characters.")]
        ladder = strings(self.channel_ladder)
        if ladder is None or set(ladder) - set(Channel.values):
            errors["channel_ladder"] = [
                _("A list of channels out of %(channels)s.")
                % {"channels": ", ".join(Channel.values)}
            ]
        if problems := cadence_errors(self.cadence):
            errors["cadence"] = problems
        if (
            self.balance_min is not None
            and self.balance_max is not None
            and self.balance_min >= self.balance_max
        ):
            errors["balance_max"] = [_("The band's upper end is above its lower end.")]
        if bool(self.escalate_after_days) != bool(self.escalate_to):
            errors["escalate_to"] = [_("An escalation point needs both the days and the stage.")]
        champion = self.challenger_of if self.challenger_of_id is not None else None
        if champion is not None:
            if champion.pk == self.pk:
                errors["challenger_of"] = [_("A strategy is not its own challenger.")]
            elif champion.client_id != self.client_id:
                errors["challenger_of"] = [_("The champion belongs to another client.")]
            elif champion.challenger_of_id is not None:
                errors["challenger_of"] = [_("The champion is itself a challenger.")]
            if not 1 <= self.challenger_share <= 99:
                errors["challenger_share"] = [
                    _("A challenger takes from 1 to 99 percent of new cases.")
                ]
        elif self.challenger_share:
            errors["challenger_share"] = [_("Only a challenger has a share.")]
        if errors:
            raise ValidationError(errors)


class RepaymentPlan(models.Model):
    """分期还款计划: installments agreed with the debtor that replace the overdue amount (or
    the balance) as of a day. While active the case is "on a plan": the nightly run keeps
    its stage, strategies do not escalate it and the queue ranks it lower. The nightly run
    decides it kept (every installment paid) or broken (one unpaid past the grace days),
    which restores collection (docs/payments.md)."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="plans"
    )
    agreed_on = models.DateField(
        _("agreed on"), help_text=_("Payments from this day on count towards the plan.")
    )
    covers = models.CharField(
        _("covers"), max_length=16, choices=PlanCovers.choices, default=PlanCovers.OVERDUE
    )
    amount = MoneyField(_("amount covered"))
    consent_note = models.TextField(
        _("debtor's consent"), help_text=_("How and when the debtor agreed to the plan.")
    )
    grace_days = models.PositiveSmallIntegerField(
        _("grace days"),
        help_text=_("An installment unpaid this many days after its date breaks the plan."),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=PlanStatus.choices, default=PlanStatus.ACTIVE
    )
    decided_as_of = models.DateField(_("decided as of"), null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("agreed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("repayment plan")
        verbose_name_plural = _("repayment plans")
        ordering = ["-agreed_on", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"], condition=models.Q(status="active"), name="plan_one_active"
            ),
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="plan_amount_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.amount} {self.status}"


class PlanInstallment(models.Model):
    """One dated amount of a repayment plan: paid when the payments from the plan's day
    on cover it and every earlier one."""

    plan = models.ForeignKey(
        RepaymentPlan,
        verbose_name=_("repayment plan"),
        on_delete=models.CASCADE,
        related_name="installments",
    )
    seq = models.PositiveSmallIntegerField(_("installment"))
    due_on = models.DateField(_("due on"))
    amount = MoneyField(_("amount"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=InstallmentStatus.choices,
        default=InstallmentStatus.PENDING,
    )
    paid_amount = MoneyField(
        _("paid towards it"), help_text=_("Payments counted for it when last decided.")
    )

    class Meta:
        verbose_name = _("plan installment")
        verbose_name_plural = _("plan installments")
        ordering = ["plan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["plan", "seq"], name="plan_installment_seq"),
            models.CheckConstraint(
                condition=models.Q(amount__gt=0), name="plan_installment_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.plan_id}#{self.seq} {self.amount} {self.due_on}"


class SettlementLimit(models.Model):
    """How large a settlement a role may approve: at most ``max_percent`` of the balance
    and at most ``max_amount`` (empty: no limit). A request goes to the lowest-ranked role
    whose limit covers it; above every limit only a superuser decides it."""

    role = models.CharField(_("role"), max_length=32, choices=Role.choices, unique=True)
    rank = models.PositiveSmallIntegerField(
        _("rank"), help_text=_("Lower ranks are asked first; the next role up is the next rank.")
    )
    max_percent = models.DecimalField(
        _("max discount (percent of the balance)"), max_digits=5, decimal_places=2
    )
    max_amount = MoneyField(_("max discount (amount)"), null=True, blank=True, default=None)

    class Meta:
        verbose_name = _("settlement limit")
        verbose_name_plural = _("settlement limits")
        ordering = ["rank", "id"]

    def __str__(self) -> str:
        return f"{self.role} {self.max_percent}% / {self.max_amount}"


class Settlement(models.Model):
    """减免/和解: a discount on penalty, interest and principal of the case's debt. The
    debtor pays ``settled_amount`` by ``deadline`` (payments from the approval day on);
    then the case closes as settled and the rest is waived (``WaiverLine``)."""

    case = models.ForeignKey(
        Case, verbose_name=_("case"), on_delete=models.PROTECT, related_name="settlements"
    )
    balance = MoneyField(_("balance when asked"))
    penalty_waived = MoneyField(_("penalty discount"))
    interest_waived = MoneyField(_("interest discount"))
    principal_waived = MoneyField(_("principal discount"))
    discount = MoneyField(_("discount"))
    settled_amount = MoneyField(_("settled amount"))
    deadline = models.DateField(_("pay by"))
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"),
        max_length=16,
        choices=SettlementStatus.choices,
        default=SettlementStatus.PENDING,
    )
    approver_role = models.CharField(
        _("decided by role"),
        max_length=32,
        choices=Role.choices,
        blank=True,
        help_text=_("The lowest role whose limit covers the discount; empty: a superuser."),
    )
    requested_at = models.DateTimeField(_("requested at"))
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
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
    decision_note = models.TextField(_("decision note"), blank=True)
    approved_on = models.DateField(
        _("approved on"), null=True, blank=True, help_text=_("Payments from this day on count.")
    )
    completed_on = models.DateField(_("settled on"), null=True, blank=True)
    paid_amount = MoneyField(_("paid towards it"))
    waived_amount = MoneyField(_("waived when settled"))

    class Meta:
        verbose_name = _("settlement")
        verbose_name_plural = _("settlements")
        ordering = ["-requested_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["case"],
                condition=models.Q(status__in=["pending", "approved"]),
                name="settlement_one_open",
            ),
            models.CheckConstraint(
                condition=models.Q(settled_amount__gt=0), name="settlement_amount_positive"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.case_id} {self.settled_amount} {self.status}"


class WaiverLine(models.Model):
    """What a settlement forgave on one loan (penalty, or one installment's interest or
    principal), dated the day the case settled. The nightly engine reads these lines with
    the payment allocations, so the loan's balance is 0 from that day on and its history
    before it is unchanged."""

    settlement = models.ForeignKey(
        Settlement, verbose_name=_("settlement"), on_delete=models.PROTECT, related_name="waivers"
    )
    loan = models.ForeignKey(
        "portfolio.Loan", verbose_name=_("loan"), on_delete=models.PROTECT, related_name="+"
    )
    installment = models.ForeignKey(
        "portfolio.Installment",
        verbose_name=_("installment"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="waivers",
    )
    component = models.CharField(_("component"), max_length=16, choices=WaivedComponent.choices)
    amount = MoneyField(_("amount"))
    value_date = models.DateField(_("value date"))
    is_reversed = models.BooleanField(_("reversed"), default=False)

    class Meta:
        verbose_name = _("waiver line")
        verbose_name_plural = _("waiver lines")
        ordering = ["settlement", "id"]
        constraints = [
            models.CheckConstraint(condition=models.Q(amount__gt=0), name="waiver_amount_positive"),
            models.CheckConstraint(
                condition=(
                    models.Q(component__in=["interest", "principal"], installment__isnull=False)
                    | models.Q(component="penalty", installment__isnull=True)
                ),
                name="waiver_installment_matches_component",
            ),
        ]
        indexes = [models.Index(fields=["loan", "value_date"], name="waiver_loan_date_idx")]

    def __str__(self) -> str:
        return f"{self.component} {self.amount}"


class Receipt(models.Model):
    """回执: a PDF receipt for a posted payment, rendered once and kept as evidence with its
    SHA-256. A new request makes a new receipt with a new number."""

    payment = models.ForeignKey(
        "payments.Payment", verbose_name=_("payment"), on_delete=models.PROTECT, related_name="+"
    )
    case = models.ForeignKey(
        Case,
        verbose_name=_("case"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="receipts",
    )
    number = models.CharField(_("receipt number"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("requested by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    pdf = models.BinaryField(_("PDF"))

    class Meta:
        verbose_name = _("receipt")
        verbose_name_plural = _("receipts")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number

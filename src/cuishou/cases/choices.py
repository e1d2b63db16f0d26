from django.db import models
from django.utils.translation import gettext_lazy as _


class Stage(models.TextChoices):
    """催收阶段, in escalation order."""

    REMINDER = "reminder", _("Reminder (提醒)")
    PHONE = "phone", _("Phone (电催)")
    WRITTEN = "written", _("Written (书面)")
    VISIT = "visit", _("Field visit (外访)")
    LEGAL = "legal", _("Legal (诉讼)")


STAGE_ORDER = [s.value for s in Stage]


class CaseStatus(models.TextChoices):
    OPEN = "open", _("Open")
    PAUSED = "paused", _("Paused (dispute or hold)")
    CURED = "cured", _("Cured (nothing overdue)")
    CLOSED = "closed", _("Closed (paid off)")
    WRITTEN_OFF = "written_off", _("Written off")


OPEN_STATUSES = [CaseStatus.OPEN.value, CaseStatus.PAUSED.value]
# A case in these is over: no more collection, no snapshot rows.
CLOSED_STATUSES = [CaseStatus.CLOSED.value, CaseStatus.WRITTEN_OFF.value]


class Channel(models.TextChoices):
    """How a contact attempt reached (or tried to reach) someone."""

    CALL = "call", _("Call (电话)")
    SMS = "sms", _("SMS (短信)")
    EMAIL = "email", _("E-mail (邮件)")
    LETTER = "letter", _("Letter (信函)")
    VISIT = "visit", _("Visit (外访)")


class Party(models.TextChoices):
    """Who was reached."""

    DEBTOR = "debtor", _("Debtor (债务人)")
    RELATED = "related", _("Related person (关系人)")
    NOBODY = "nobody", _("Nobody (未接通)")


class Outcome(models.TextChoices):
    """The contact outcome codes of DESIGN.md, shared by the workbench, the compliance
    engine and imports."""

    NO_ANSWER = "no_answer", _("No answer (无人接听)")
    BUSY = "busy", _("Busy (占线)")
    SWITCHED_OFF = "switched_off", _("Switched off (关机)")
    WRONG_NUMBER = "wrong_number", _("Wrong number (错号)")
    RPC = "rpc", _("Right-party contact (本人接通)")
    THIRD_PARTY = "third_party", _("Third party reached (第三方接通)")
    PTP = "ptp", _("Promise to pay (承诺还款)")
    REFUSES = "refuses", _("Refuses (拒绝)")
    DISPUTES = "disputes", _("Disputes (异议)")
    CLAIMS_PAID = "claims_paid", _("Claims paid (称已还款)")
    HARDSHIP = "hardship", _("Hardship (困难)")
    DECEASED = "deceased", _("Deceased (身故)")
    CEASE = "cease", _("Asks to stop contact (要求停止联系)")


# A call is answered for every code except these.
UNANSWERED_OUTCOMES = frozenset({Outcome.NO_ANSWER, Outcome.BUSY, Outcome.SWITCHED_OFF})
# Outcomes that say somebody was reached (so "nobody" is not a possible party).
REACHED_OUTCOMES = frozenset(set(Outcome) - UNANSWERED_OUTCOMES - {Outcome.WRONG_NUMBER})


class PromiseStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    KEPT = "kept", _("Kept")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class DisputeStatus(models.TextChoices):
    OPEN = "open", _("Open")
    RESOLVED = "resolved", _("Resolved")


class Closure(models.TextChoices):
    """How a case was closed."""

    PAID_IN_FULL = "paid_in_full", _("Paid in full (结清)")
    SETTLED = "settled", _("Settled (和解结案)")
    RETURNED = "returned", _("Returned to the client (退案)")
    WRITTEN_OFF = "written_off", _("Written off (核销)")


class RequestKind(models.TextChoices):
    """Changes that need somebody else's approval."""

    DE_ESCALATE = "de_escalate", _("De-escalate the stage")
    WRITE_OFF = "write_off", _("Write off")


class RequestStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")


class HandOverStatus(models.TextChoices):
    """A visit request or legal review created by an escalation."""

    OPEN = "open", _("Open")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class Target(models.TextChoices):
    """What a strategy aims to get from the debtor."""

    PROMISE = "promise", _("A promise to pay")
    PLAN = "plan", _("A repayment plan")
    FULL_PAYMENT = "full_payment", _("Payment in full")


class Arm(models.TextChoices):
    """Which variant of a strategy a case got (champion/challenger)."""

    CHAMPION = "champion", _("Champion")
    CHALLENGER = "challenger", _("Challenger")


class PlanStatus(models.TextChoices):
    """A repayment plan (分期还款计划); kept or broken is decided by the nightly run."""

    ACTIVE = "active", _("Active")
    KEPT = "kept", _("Kept (all paid)")
    BROKEN = "broken", _("Broken")
    CANCELLED = "cancelled", _("Cancelled")


class PlanCovers(models.TextChoices):
    """What a repayment plan replaces."""

    OVERDUE = "overdue", _("The overdue amount")
    BALANCE = "balance", _("The whole balance")


class InstallmentStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    PAID = "paid", _("Paid")
    MISSED = "missed", _("Missed")


class SettlementStatus(models.TextChoices):
    """A settlement (减免/和解): asked for, decided within a role's limit, then paid by its
    deadline (the case closes as settled) or lapsed."""

    PENDING = "pending", _("Waiting for approval")
    APPROVED = "approved", _("Approved (waiting for the payments)")
    REJECTED = "rejected", _("Rejected")
    PAID = "paid", _("Paid (case settled)")
    LAPSED = "lapsed", _("Lapsed (deadline missed)")


class WaivedComponent(models.TextChoices):
    """What a waiver line forgives; the same values as a payment allocation's component,
    so the nightly engine reads both ledgers alike."""

    PENALTY = "penalty", _("Penalty interest")
    INTEREST = "interest", _("Interest")
    PRINCIPAL = "principal", _("Principal")

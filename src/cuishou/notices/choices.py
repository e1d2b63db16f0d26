"""Status values and kinds of written collection, with their labels."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class TemplateKind(models.TextChoices):
    """What a notice template makes (DESIGN.md: Notice, 介绍信, SMS and e-mail texts)."""

    COLLECTION_NOTICE = "collection_notice", _("Collection notice (催款通知书)")
    LEGAL_NOTICE = "legal_notice", _("Legal notice (法律告知书)")
    LAWYER_LETTER = "lawyer_letter", _("Lawyer's letter (律师函)")
    INTRODUCTION = "introduction", _("Letter of introduction (介绍信)")
    VALIDATION_NOTICE = "validation_notice", _("Debt validation notice (US, Regulation F)")
    SMS = "sms", _("SMS text (短信)")
    EMAIL = "email", _("E-mail text (邮件)")


# Kinds rendered as a PDF document (a letter); SMS and e-mail texts are plain text.
LETTER_KINDS = frozenset(
    {
        TemplateKind.COLLECTION_NOTICE,
        TemplateKind.LEGAL_NOTICE,
        TemplateKind.LAWYER_LETTER,
        TemplateKind.INTRODUCTION,
        TemplateKind.VALIDATION_NOTICE,
    }
)


class Audience(models.TextChoices):
    """Whom a template's text may go to. A third-party text never mentions the debt."""

    DEBTOR = "debtor", _("The debtor (债务人)")
    THIRD_PARTY = "third_party", _("A third party (第三方)")


class NoticeLanguage(models.TextChoices):
    ZH_HANS = "zh-hans", _("Simplified Chinese")
    EN = "en", _("English")


class TemplateStatus(models.TextChoices):
    """A version of a template: a draft until a compliance officer approves it; an
    approved version is superseded when a newer version is approved."""

    DRAFT = "draft", _("Draft (awaiting approval)")
    APPROVED = "approved", _("Approved")
    REJECTED = "rejected", _("Rejected")
    SUPERSEDED = "superseded", _("Superseded by a newer version")


class SendChannel(models.TextChoices):
    """How a document reaches its recipient."""

    SMS = "sms", _("SMS (短信)")
    EMAIL = "email", _("E-mail (邮件)")
    POST = "post", _("Post (邮寄)")
    IN_PERSON = "in_person", _("In person, on a field visit (当面送达)")


# The compliance engine's channel for each send channel (cases.choices.Channel).
CHECK_CHANNEL = {
    SendChannel.SMS: "sms",
    SendChannel.EMAIL: "email",
    SendChannel.POST: "letter",
    SendChannel.IN_PERSON: "visit",
}


class DeliveryStatus(models.TextChoices):
    """Where a send stands. ``blocked`` never left (compliance refused it)."""

    QUEUED = "queued", _("Queued")
    BLOCKED = "blocked", _("Blocked by compliance")
    SENT = "sent", _("Sent")
    DELIVERED = "delivered", _("Delivered")
    FAILED = "failed", _("Failed")
    SIGNED = "signed", _("Signed for (回执)")
    RETURNED = "returned", _("Returned")


# The moves a delivery status may make (a signed receipt can come after any send).
DELIVERY_MOVES: dict[str, frozenset[str]] = {
    DeliveryStatus.QUEUED: frozenset({DeliveryStatus.SENT, DeliveryStatus.FAILED}),
    DeliveryStatus.SENT: frozenset(
        {
            DeliveryStatus.DELIVERED,
            DeliveryStatus.FAILED,
            DeliveryStatus.SIGNED,
            DeliveryStatus.RETURNED,
        }
    ),
    DeliveryStatus.DELIVERED: frozenset({DeliveryStatus.SIGNED, DeliveryStatus.RETURNED}),
    DeliveryStatus.RETURNED: frozenset({DeliveryStatus.SIGNED}),
    DeliveryStatus.FAILED: frozenset(),
    DeliveryStatus.SIGNED: frozenset(),
    DeliveryStatus.BLOCKED: frozenset(),
}


class CampaignStatus(models.TextChoices):
    QUEUED = "queued", _("Queued")
    RUNNING = "running", _("Running")
    DONE = "done", _("Done")
    FAILED = "failed", _("Failed")

from django.db import models
from django.utils.translation import gettext_lazy as _


class PolicyPack(models.TextChoices):
    CN = "CN", _("China (GB/T 45251—2025)")
    US = "US", _("United States (FDCPA / Regulation F)")


class DayCountBasis(models.IntegerChoices):
    ACT_360 = 360, _("360 days")
    ACT_365 = 365, _("365 days")


class ContactKind(models.TextChoices):
    PHONE = "phone", _("Phone")
    EMAIL = "email", _("E-mail")


class ContactStatus(models.TextChoices):
    UNVERIFIED = "unverified", _("Unverified")
    VALID = "valid", _("Valid")
    INVALID = "invalid", _("Invalid (wrong number)")
    DO_NOT_CONTACT = "do_not_contact", _("Do not contact")


class ConsentChannel(models.TextChoices):
    """The channels a debtor consents to or opts out of, per number or address."""

    CALL = "call", _("Calls (电话)")
    SMS = "sms", _("SMS (短信)")
    EMAIL = "email", _("E-mail (邮件)")


# The channels a contact point of each kind takes.
CONSENT_CHANNELS: dict[str, tuple[str, ...]] = {
    ContactKind.PHONE.value: (ConsentChannel.CALL.value, ConsentChannel.SMS.value),
    ContactKind.EMAIL.value: (ConsentChannel.EMAIL.value,),
}


class ConsentState(models.TextChoices):
    GIVEN = "given", _("Consent given")
    WITHDRAWN = "withdrawn", _("Opted out")


class ConsentSource(models.TextChoices):
    """Where a consent or an opt-out came from. Every source but the client's file is the
    debtor's own word (what Regulation F calls consent given directly)."""

    IMPORT = "import", _("The client's file")
    CALL = "call", _("Said on a call")
    VISIT = "visit", _("Said on a visit")
    REPLY = "reply", _("A reply (STOP, 退订) or a message from that number or address")
    WRITTEN = "written", _("In writing")


class ContactSource(models.TextChoices):
    IMPORT = "import", _("Imported")
    COLLECTOR = "collector", _("Learned by a collector")
    VISIT = "visit", _("Learned on a visit")
    DEBTOR = "debtor", _("Given by the debtor")
    OTHER = "other", _("Other")


class Relation(models.TextChoices):
    SELF = "self", _("Self (本人)")
    SPOUSE = "spouse", _("Spouse (配偶)")
    PARENT = "parent", _("Parent (父母)")
    CHILD = "child", _("Child (子女)")
    SIBLING = "sibling", _("Sibling (兄弟姐妹)")
    RELATIVE = "relative", _("Relative (亲属)")
    FRIEND = "friend", _("Friend (朋友)")
    COLLEAGUE = "colleague", _("Colleague (同事)")
    GUARANTOR = "guarantor", _("Guarantor (担保人)")
    CO_BORROWER = "co_borrower", _("Co-borrower (共同借款人)")
    OTHER = "other", _("Other (其他)")


# Chinese names accepted in import files for each relation.
RELATION_ALIASES: dict[str, str] = {
    "本人": "self",
    "配偶": "spouse",
    "父母": "parent",
    "子女": "child",
    "兄弟姐妹": "sibling",
    "亲属": "relative",
    "朋友": "friend",
    "同事": "colleague",
    "担保人": "guarantor",
    "共同借款人": "co_borrower",
    "其他": "other",
}


class AddressKind(models.TextChoices):
    RESIDENCE = "residence", _("Residence (住宅)")
    MAILING = "mailing", _("Mailing (邮寄)")
    WORK = "work", _("Work (单位)")
    HUKOU = "hukou", _("Hukou (户籍)")
    OTHER = "other", _("Other (其他)")


ADDRESS_KIND_ALIASES: dict[str, str] = {
    "住宅": "residence",
    "邮寄": "mailing",
    "单位": "work",
    "户籍": "hukou",
    "其他": "other",
}


class LoanStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    PAID_OFF = "paid_off", _("Paid off")
    WRITTEN_OFF = "written_off", _("Written off")


class Bucket(models.TextChoices):
    M0 = "M0", _("M0 current")
    M1 = "M1", _("M1 (1–30)")
    M2 = "M2", _("M2 (31–60)")
    M3 = "M3", _("M3 (61–90)")
    M4 = "M4", _("M4 (91–120)")
    M5 = "M5", _("M5 (121–150)")
    M6 = "M6", _("M6 (151–180)")
    M7 = "M7+", _("M7+ (over 180)")


def bucket_for_dpd(dpd: int) -> str:
    """M0 for 0, M1 for 1–30, … M7+ for more than 180 days past due."""
    if dpd <= 0:
        return Bucket.M0.value
    if dpd > 180:
        return Bucket.M7.value
    return f"M{(dpd - 1) // 30 + 1}"


class ImportStatus(models.TextChoices):
    RUNNING = "running", _("Running")
    COMMITTED = "committed", _("Committed")
    REJECTED = "rejected", _("Rejected (bad rows)")
    DRY_RUN = "dry_run", _("Dry run (nothing written)")
    FAILED = "failed", _("Failed")

"""Written collection: notice templates (versioned, approved), the documents rendered from
them (numbered, hashed, never re-rendered in place), their sends through a channel, print
batches for the post, signed receipts (回执) and campaigns."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.notices.choices import (
    Audience,
    CampaignStatus,
    DeliveryStatus,
    NoticeLanguage,
    SendChannel,
    TemplateKind,
    TemplateStatus,
)


class ClientNoticeProfile(models.Model):
    """What a client's notices say about the office, how to pay and how to dispute."""

    client = models.OneToOneField(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.CASCADE,
        related_name="notice_profile",
    )
    office_name = models.CharField(_("office name"), max_length=200)
    office_address = models.CharField(_("office address"), max_length=300, blank=True)
    office_phone = models.CharField(_("office phone"), max_length=40, blank=True)
    office_email = models.EmailField(_("office e-mail"), blank=True)
    office_hours = models.CharField(_("office hours"), max_length=100, blank=True)
    how_to_pay = models.TextField(_("how to pay"), blank=True)
    how_to_dispute = models.TextField(_("how to dispute"), blank=True)
    deadline_days = models.PositiveSmallIntegerField(
        _("days to the deadline"),
        default=14,
        help_text=_("A notice's payment deadline is this many days after its date."),
    )
    dispute_days = models.PositiveSmallIntegerField(
        _("days to dispute"),
        default=35,
        help_text=_(
            "The end of the dispute period on a validation notice, counted from its date "
            "(Regulation F: at least 30 days after the debtor receives it)."
        ),
    )

    class Meta:
        verbose_name = _("client notice profile")
        verbose_name_plural = _("client notice profiles")

    def __str__(self) -> str:
        return self.office_name


class NoticeTemplate(models.Model):
    """One version of a template. An edit makes a new version (a draft); only an approved
    version that is the newest of its key may be sent."""

    key = models.SlugField(_("template key"), max_length=64)
    version = models.PositiveIntegerField(_("version"))
    kind = models.CharField(_("kind"), max_length=24, choices=TemplateKind.choices)
    audience = models.CharField(
        _("audience"), max_length=16, choices=Audience.choices, default=Audience.DEBTOR
    )
    language = models.CharField(_("language"), max_length=8, choices=NoticeLanguage.choices)
    name = models.CharField(_("name"), max_length=200)
    subject = models.CharField(
        _("title or subject"), max_length=200, blank=True, help_text=_("A template too.")
    )
    body = models.TextField(_("text"))
    status = models.CharField(
        _("status"), max_length=16, choices=TemplateStatus.choices, default=TemplateStatus.DRAFT
    )
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("written by"),
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
    decision_note = models.CharField(_("decision note"), max_length=300, blank=True)
    content_sha256 = models.CharField(
        _("SHA-256 of the approved content"), max_length=64, blank=True
    )

    class Meta:
        verbose_name = _("notice template")
        verbose_name_plural = _("notice templates")
        ordering = ["key", "-version"]
        constraints = [
            models.UniqueConstraint(fields=["key", "version"], name="notice_template_version")
        ]

    def __str__(self) -> str:
        return f"{self.name} v{self.version}"


class PrintBatch(models.Model):
    """A print run for the post: one PDF of the letters, one letter per page, and the
    mailing list (CSV)."""

    number = models.CharField(_("batch number"), max_length=32, unique=True)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    pdf = models.BinaryField(_("PDF"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    mailing_list = models.TextField(_("mailing list (CSV)"))
    letters = models.PositiveIntegerField(_("letters"), default=0)

    class Meta:
        verbose_name = _("print batch")
        verbose_name_plural = _("print batches")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.number


class Campaign(models.Model):
    """A template sent to a selection of cases, in the background, each message checked."""

    name = models.CharField(_("name"), max_length=200)
    template = models.ForeignKey(
        NoticeTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=SendChannel.choices)
    client = models.ForeignKey(
        "portfolio.Client",
        verbose_name=_("client"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    buckets = models.JSONField(_("buckets"), default=list, blank=True)
    stages = models.JSONField(_("stages"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=CampaignStatus.choices, default=CampaignStatus.QUEUED
    )
    total = models.PositiveIntegerField(_("cases selected"), default=0)
    processed = models.PositiveIntegerField(_("processed"), default=0)
    sent = models.PositiveIntegerField(_("sent"), default=0)
    blocked = models.PositiveIntegerField(_("blocked"), default=0)
    failed = models.PositiveIntegerField(_("failed"), default=0)
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    started_at = models.DateTimeField(_("started at"), null=True, blank=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    error = models.TextField(_("error"), blank=True)

    class Meta:
        verbose_name = _("campaign")
        verbose_name_plural = _("campaigns")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.name


class Document(models.Model):
    """A rendered notice: its number (on the page and in its QR code), its text (and PDF
    for a letter) and their SHA-256. Never rendered again in place."""

    number = models.CharField(_("document number"), max_length=32, unique=True)
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="documents"
    )
    template = models.ForeignKey(
        NoticeTemplate, verbose_name=_("template"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("kind"), max_length=24, choices=TemplateKind.choices)
    language = models.CharField(_("language"), max_length=8, choices=NoticeLanguage.choices)
    audience = models.CharField(_("audience"), max_length=16, choices=Audience.choices)
    related_person = models.ForeignKey(
        "portfolio.RelatedPerson",
        verbose_name=_("related person"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recipient_name = models.CharField(_("recipient"), max_length=200)
    subject = models.CharField(_("title or subject"), max_length=300, blank=True)
    text = models.TextField(_("text"))
    html = models.TextField(_("HTML"), blank=True)
    pdf = models.BinaryField(_("PDF"), null=True, blank=True)
    sha256 = models.CharField(
        _("SHA-256"), max_length=64, help_text=_("Of the PDF for a letter, of the text otherwise.")
    )
    as_of = models.DateField(_("figures as of"))
    figures = models.JSONField(_("figures"), default=dict, blank=True)
    signed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("signed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="documents",
    )

    class Meta:
        verbose_name = _("document")
        verbose_name_plural = _("documents")
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["case", "created_at"], name="notice_doc_case_idx")]

    def __str__(self) -> str:
        return self.number

    @property
    def is_letter(self) -> bool:
        return self.pdf is not None


class Dispatch(models.Model):
    """One send of a document through a channel, and its delivery status."""

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.PROTECT, related_name="dispatches"
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="dispatches"
    )
    channel = models.CharField(_("channel"), max_length=16, choices=SendChannel.choices)
    contact_point = models.ForeignKey(
        "portfolio.ContactPoint",
        verbose_name=_("number or address"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    address = models.ForeignKey(
        "portfolio.Address",
        verbose_name=_("postal address"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recipient = models.CharField(_("sent to"), max_length=300)
    status = models.CharField(
        _("delivery status"),
        max_length=16,
        choices=DeliveryStatus.choices,
        default=DeliveryStatus.QUEUED,
    )
    reason = models.TextField(_("reason"), blank=True)
    compliance_rules = models.JSONField(_("compliance rules"), default=list, blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    provider_ref = models.CharField(_("provider reference"), max_length=100, blank=True)
    tracking_number = models.CharField(_("tracking number"), max_length=64, blank=True)
    print_batch = models.ForeignKey(
        PrintBatch,
        verbose_name=_("print batch"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dispatches",
    )
    campaign = models.ForeignKey(
        Campaign,
        verbose_name=_("campaign"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="dispatches",
    )
    created_at = models.DateTimeField(_("created at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("sent by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    status_at = models.DateTimeField(_("status since"))

    class Meta:
        verbose_name = _("send")
        verbose_name_plural = _("sends")
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["case", "created_at"], name="notice_dispatch_case_idx"),
            models.Index(fields=["channel", "status"], name="notice_dispatch_status_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.document.number} {self.channel} {self.status}"


class SignedReceipt(models.Model):
    """回执: a photo or scan of a document signed for, kept as evidence with its SHA-256."""

    document = models.ForeignKey(
        Document, verbose_name=_("document"), on_delete=models.PROTECT, related_name="receipts"
    )
    dispatch = models.ForeignKey(
        Dispatch,
        verbose_name=_("send"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="receipts",
    )
    file_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    content = models.BinaryField(_("file"))
    sha256 = models.CharField(_("SHA-256"), max_length=64)
    signer_name = models.CharField(_("signed by"), max_length=100)
    signer_relation = models.CharField(
        _("signer's relation to the debtor"), max_length=100, blank=True
    )
    signed_on = models.DateField(_("signed on"))
    matched_by = models.CharField(_("matched by"), max_length=16)
    uploaded_at = models.DateTimeField(_("uploaded at"))
    uploaded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("uploaded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("signed receipt")
        verbose_name_plural = _("signed receipts")
        ordering = ["-uploaded_at", "-id"]

    def __str__(self) -> str:
        return f"{self.document.number} {self.signer_name}"


class CampaignMessage(models.Model):
    """One case of a campaign: allowed and sent, or blocked with the rules and why."""

    campaign = models.ForeignKey(
        Campaign, verbose_name=_("campaign"), on_delete=models.CASCADE, related_name="messages"
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="+"
    )
    allowed = models.BooleanField(_("allowed"))
    rules = models.JSONField(_("rules"), default=list, blank=True)
    reason = models.TextField(_("reason"), blank=True)
    dispatch = models.ForeignKey(
        Dispatch,
        verbose_name=_("send"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("campaign message")
        verbose_name_plural = _("campaign messages")
        ordering = ["id"]
        indexes = [models.Index(fields=["campaign", "allowed"], name="notice_campaign_msg_idx")]

    def __str__(self) -> str:
        return f"{self.campaign_id}:{self.case_id}"


class SmsOutbox(models.Model):
    """The demo's SMS provider: messages are kept here instead of going out."""

    to = models.CharField(_("to"), max_length=32)
    text = models.TextField(_("text"))
    reference = models.CharField(_("reference"), max_length=64)
    created_at = models.DateTimeField(_("created at"))

    class Meta:
        verbose_name = _("outbox SMS")
        verbose_name_plural = _("outbox SMS")
        ordering = ["-id"]

    def __str__(self) -> str:
        return f"{self.to} {self.reference}"

"""The portfolio: clients, their products, debtors with contacts and addresses, loans."""

from __future__ import annotations

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.core.models import MoneyField, RateField, TimeStampedModel
from cuishou.payments.choices import Waterfall
from cuishou.portfolio.choices import (
    AddressKind,
    Bucket,
    ConsentChannel,
    ConsentSource,
    ConsentState,
    ContactKind,
    ContactSource,
    ContactStatus,
    DayCountBasis,
    ImportStatus,
    LoanStatus,
    PolicyPack,
    Relation,
)


class Client(TimeStampedModel):
    """委托方: the creditor whose portfolio it is. An agency serves many."""

    code = models.CharField(_("code"), max_length=32, unique=True)
    name = models.CharField(_("name"), max_length=200)
    policy_pack = models.CharField(
        _("policy pack"), max_length=8, choices=PolicyPack.choices, default=PolicyPack.CN
    )
    timezone = models.CharField(_("time zone"), max_length=64, default="Asia/Shanghai")
    # Default terms for products first seen in an import file.
    default_annual_rate = RateField(_("default annual rate"), default=Decimal("0.18"))
    default_penalty_annual_rate = RateField(
        _("default penalty annual rate"), default=Decimal("0.00")
    )
    default_grace_days = models.PositiveSmallIntegerField(_("default grace days"), default=0)
    default_annual_cost_cap = RateField(
        _("default annual cost cap"),
        default=Decimal("0.24"),
        help_text=_("Total annual charges never exceed this fraction of principal."),
    )
    default_day_count_basis = models.PositiveSmallIntegerField(
        _("default day-count basis"), choices=DayCountBasis.choices, default=DayCountBasis.ACT_360
    )
    is_active = models.BooleanField(_("active"), default=True)
    first_party_creditor = models.BooleanField(
        _("first-party creditor (collects its own accounts)"),
        default=False,
        db_default=False,
        help_text=_(
            "The client collects its own accounts: the US pack's rules that bind only debt "
            "collectors (Regulation F, the FDCPA) do not apply to its cases; house rules "
            "and the rules marked for all still do."
        ),
    )

    class Meta:
        verbose_name = _("client")
        verbose_name_plural = _("clients")
        ordering = ["code"]

    def __str__(self) -> str:
        return f"{self.code} {self.name}"


class Product(TimeStampedModel):
    """A loan product of a client with its pricing and charge rules."""

    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.PROTECT, related_name="products"
    )
    name = models.CharField(_("name"), max_length=100)
    annual_rate = RateField(_("annual rate"))
    penalty_annual_rate = RateField(_("penalty annual rate (罚息)"))
    day_count_basis = models.PositiveSmallIntegerField(
        _("day-count basis"), choices=DayCountBasis.choices, default=DayCountBasis.ACT_360
    )
    compound_penalty = models.BooleanField(
        _("penalty also on overdue interest (复利)"), default=False
    )
    grace_days = models.PositiveSmallIntegerField(_("grace days"), default=0)
    waterfall = models.CharField(
        _("payment waterfall"),
        max_length=16,
        choices=Waterfall.choices,
        default=Waterfall.DEFAULT,
        db_default=Waterfall.DEFAULT,  # the importer creates products in plain SQL too
        help_text=_("The order a payment pays penalty, interest and principal in."),
    )
    annual_cost_cap = RateField(
        _("annual cost cap"),
        help_text=_("Total annual charges as a fraction of principal never exceed this."),
    )
    needs_review = models.BooleanField(
        _("needs review"),
        default=False,
        help_text=_("Created by an import with the client's default terms."),
    )

    class Meta:
        verbose_name = _("product")
        verbose_name_plural = _("products")
        ordering = ["client", "name"]
        constraints = [
            models.UniqueConstraint(fields=["client", "name"], name="product_unique_per_client")
        ]

    def __str__(self) -> str:
        return self.name


class Debtor(TimeStampedModel):
    """债务人: a borrower, identified by the resident ID number."""

    id_number = models.CharField(_("ID number"), max_length=18, unique=True)
    name = models.CharField(_("name"), max_length=100)
    mobile = models.CharField(_("mobile"), max_length=20)
    birth_date = models.DateField(_("birth date"), null=True, blank=True)
    gender = models.CharField(_("gender"), max_length=1, blank=True)
    language = models.CharField(
        _("language"),
        max_length=16,
        blank=True,
        default="",
        db_default="",  # the importer writes debtors in plain SQL
        help_text=_("A language the collector must speak (e.g. yue, en); empty for Mandarin."),
    )
    employer_forbids_calls_since = models.DateField(
        _("employer forbids calls at work, since"),
        null=True,
        blank=True,
        help_text=_(
            "The day the debtor said the employer forbids calls at work; empty when the "
            "debtor has not said so (or said it no longer holds)."
        ),
    )

    class Meta:
        verbose_name = _("debtor")
        verbose_name_plural = _("debtors")
        indexes = [models.Index(fields=["name"], name="debtor_name_idx")]

    def __str__(self) -> str:
        return self.name


class RelatedPerson(TimeStampedModel):
    """关系人: co-borrower, guarantor, spouse, family, friend, colleague of a debtor."""

    # No separate index: the (debtor, name, relation) unique constraint serves it.
    debtor = models.ForeignKey(
        Debtor,
        verbose_name=_("debtor"),
        on_delete=models.CASCADE,
        related_name="related_persons",
        db_index=False,
    )
    name = models.CharField(_("name"), max_length=100)
    relation = models.CharField(_("relation"), max_length=16, choices=Relation.choices)
    refused_contact = models.BooleanField(
        _("refused further contact"),
        default=False,
        help_text=_("A third party who refused is never contacted again."),
    )
    source = models.CharField(
        _("source"), max_length=16, choices=ContactSource.choices, default=ContactSource.IMPORT
    )

    class Meta:
        verbose_name = _("related person")
        verbose_name_plural = _("related persons")
        constraints = [
            models.UniqueConstraint(
                fields=["debtor", "name", "relation"], name="related_person_unique"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_relation_display()})"

    @property
    def is_third_party(self) -> bool:
        return self.relation not in {Relation.SELF, Relation.CO_BORROWER, Relation.GUARANTOR}


class ContactPoint(TimeStampedModel):
    """A phone number or e-mail address in a debtor's file, the debtor's or a related person's."""

    # No separate index: the (debtor, kind, value) unique constraint serves it.
    debtor = models.ForeignKey(
        Debtor,
        verbose_name=_("debtor"),
        on_delete=models.CASCADE,
        related_name="contact_points",
        db_index=False,
    )
    related_person = models.ForeignKey(
        RelatedPerson,
        verbose_name=_("related person"),
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="contact_points",
        help_text=_("Empty when the number is the debtor's own."),
    )
    kind = models.CharField(_("kind"), max_length=8, choices=ContactKind.choices)
    value = models.CharField(_("value"), max_length=254)
    status = models.CharField(
        _("status"), max_length=16, choices=ContactStatus.choices, default=ContactStatus.UNVERIFIED
    )
    source = models.CharField(
        _("source"), max_length=16, choices=ContactSource.choices, default=ContactSource.IMPORT
    )
    is_primary = models.BooleanField(_("primary"), default=False)
    is_workplace = models.BooleanField(
        _("workplace / employer-provided"),
        default=False,
        db_default=False,  # the importer writes contact points in plain SQL
        help_text=_(
            "A number at the debtor's workplace or an e-mail address the employer provided."
        ),
    )

    class Meta:
        verbose_name = _("contact point")
        verbose_name_plural = _("contact points")
        constraints = [
            models.UniqueConstraint(
                fields=["debtor", "kind", "value"], name="contact_point_unique_per_debtor"
            )
        ]
        indexes = [models.Index(fields=["value"], name="contact_value_idx")]

    def __str__(self) -> str:
        return self.value


class ContactConsent(models.Model):
    """One entry of a contact point's consent history for a channel: consent given, or
    withdrawn (an opt-out). Entries are never changed or deleted; for each contact point
    and channel the latest entry (by ``at``) decides."""

    contact_point = models.ForeignKey(
        ContactPoint,
        verbose_name=_("contact point"),
        on_delete=models.PROTECT,
        related_name="consents",
    )
    channel = models.CharField(_("channel"), max_length=8, choices=ConsentChannel.choices)
    state = models.CharField(_("consent"), max_length=16, choices=ConsentState.choices)
    at = models.DateTimeField(_("when the debtor said so"))
    source = models.CharField(_("source"), max_length=16, choices=ConsentSource.choices)
    note = models.CharField(_("note"), max_length=200, blank=True)
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    recorded_at = models.DateTimeField(_("recorded at"), auto_now_add=True)

    class Meta:
        verbose_name = _("consent or opt-out")
        verbose_name_plural = _("consents and opt-outs")
        ordering = ["contact_point", "channel", "-at", "-id"]
        indexes = [
            models.Index(fields=["contact_point", "channel", "at"], name="consent_point_idx")
        ]

    def __str__(self) -> str:
        return f"{self.contact_point_id} {self.channel} {self.state} {self.at:%Y-%m-%d}"

    @property
    def direct(self) -> bool:
        """Given by the debtor directly (not taken from the client's file)."""
        return self.source != ConsentSource.IMPORT

    def clean(self) -> None:
        import datetime as dt

        from django.core.exceptions import ValidationError
        from django.utils import timezone

        from cuishou.portfolio.choices import CONSENT_CHANNELS

        if self.at is not None and self.at > timezone.now() + dt.timedelta(minutes=5):
            raise ValidationError(
                {"at": _("A consent or an opt-out is recorded when it was given, not ahead.")}
            )
        if self.contact_point_id is None or not self.channel:
            return
        point = self.contact_point
        takes = CONSENT_CHANNELS.get(point.kind, ())
        if self.channel not in takes:
            raise ValidationError(
                {
                    "channel": _("A %(kind)s takes %(channels)s, not %(channel)s.")
                    % {
                        "kind": point.get_kind_display(),
                        "channels": ", ".join(takes),
                        "channel": self.channel,
                    }
                }
            )


class Address(TimeStampedModel):
    """An address of a debtor: residence, mailing, work, hukou or other."""

    # No separate index: the (debtor, kind, text) unique constraint serves it.
    debtor = models.ForeignKey(
        Debtor,
        verbose_name=_("debtor"),
        on_delete=models.CASCADE,
        related_name="addresses",
        db_index=False,
    )
    kind = models.CharField(_("kind"), max_length=16, choices=AddressKind.choices)
    text = models.CharField(_("address"), max_length=300)
    province = models.CharField(_("province"), max_length=50, blank=True)
    city = models.CharField(_("city"), max_length=50, blank=True)
    district = models.CharField(_("district"), max_length=50, blank=True)
    lat = models.DecimalField(_("latitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    lon = models.DecimalField(_("longitude"), max_digits=9, decimal_places=6, null=True, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=ContactSource.choices, default=ContactSource.IMPORT
    )
    is_valid = models.BooleanField(_("valid"), default=True)

    class Meta:
        verbose_name = _("address")
        verbose_name_plural = _("addresses")
        constraints = [
            models.UniqueConstraint(fields=["debtor", "kind", "text"], name="address_unique"),
            models.CheckConstraint(
                condition=(models.Q(lat__isnull=True) & models.Q(lon__isnull=True))
                | (models.Q(lat__isnull=False) & models.Q(lon__isnull=False)),
                name="address_lat_lon_both_or_neither",
            ),
        ]
        indexes = [models.Index(fields=["city", "district"], name="address_city_idx")]

    def __str__(self) -> str:
        return self.text


class Loan(TimeStampedModel):
    """借款合同: a contract of a client with its schedule and computed state."""

    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.PROTECT, related_name="loans"
    )
    contract_no = models.CharField(_("contract number"), max_length=64)
    # Indexed with the client (``loan_debtor_client_idx``), which serves the debtor's
    # loans too: the nightly run reads a debtor's loans with one client from the index.
    debtor = models.ForeignKey(
        Debtor,
        verbose_name=_("debtor"),
        on_delete=models.PROTECT,
        related_name="loans",
        db_index=False,
    )
    product = models.ForeignKey(
        Product, verbose_name=_("product"), on_delete=models.PROTECT, related_name="loans"
    )
    principal = MoneyField(_("principal"))
    annual_rate = RateField(_("annual rate"))
    penalty_annual_rate = RateField(
        _("penalty annual rate"),
        null=True,
        blank=True,
        help_text=_("Empty means the product's penalty rate."),
    )
    disbursed_on = models.DateField(_("disbursed on"))
    currency = models.CharField(_("currency"), max_length=3, default="CNY")
    segment = models.CharField(
        _("segment (客群)"),
        max_length=32,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "The client's segment for the account, e.g. 新客 or 高风险; strategies match on it."
        ),
    )
    limitation_on = models.DateField(
        _("limitation period ends (诉讼时效届满日)"),
        null=True,
        blank=True,
        help_text=_(
            "The last day a suit on the debt may be filed (statute of limitations); from the "
            "day after, the debt is time-barred. Empty when not known."
        ),
    )
    status = models.CharField(
        _("status"), max_length=16, choices=LoanStatus.choices, default=LoanStatus.ACTIVE
    )
    # Computed by the nightly engine as of ``computed_as_of``.
    computed_as_of = models.DateField(_("computed as of"), null=True, blank=True)
    dpd = models.IntegerField(_("days past due"), default=0)
    bucket = models.CharField(_("bucket"), max_length=3, choices=Bucket.choices, default="M0")
    overdue_principal = MoneyField(_("overdue principal"))
    overdue_interest = MoneyField(_("overdue interest"))
    penalty = MoneyField(_("penalty interest"))
    penalty_capped = models.BooleanField(
        _("penalty capped"),
        default=False,
        db_default=False,  # the importer and the engine write loans in plain SQL
        help_text=_("Charges reached the product's annual cost cap; penalty stops there."),
    )
    balance = MoneyField(_("outstanding balance"))
    last_import = models.ForeignKey(
        "portfolio.ImportRun",
        verbose_name=_("last import"),
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("loan")
        verbose_name_plural = _("loans")
        constraints = [
            models.UniqueConstraint(
                fields=["client", "contract_no"], name="loan_contract_unique_per_client"
            )
        ]
        indexes = [
            models.Index(fields=["client", "bucket"], name="loan_client_bucket_idx"),
            models.Index(fields=["debtor", "client"], name="loan_debtor_client_idx"),
        ]

    def __str__(self) -> str:
        return self.contract_no


class Installment(models.Model):
    """One period of a loan's repayment schedule."""

    # No separate index: the (loan, seq) unique constraint serves lookups by loan.
    loan = models.ForeignKey(
        Loan,
        verbose_name=_("loan"),
        on_delete=models.CASCADE,
        related_name="installments",
        db_index=False,
    )
    seq = models.PositiveSmallIntegerField(_("period"))
    due_on = models.DateField(_("due on"))
    principal_due = MoneyField(_("principal due"))
    interest_due = MoneyField(_("interest due"))
    principal_paid = MoneyField(_("principal paid"))
    interest_paid = MoneyField(_("interest paid"))

    class Meta:
        verbose_name = _("installment")
        verbose_name_plural = _("installments")
        ordering = ["loan", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["loan", "seq"], name="installment_unique_seq"),
            models.CheckConstraint(
                condition=models.Q(principal_paid__lte=models.F("principal_due"))
                & models.Q(interest_paid__lte=models.F("interest_due")),
                name="installment_paid_not_above_due",
            ),
        ]
        indexes = [
            models.Index(fields=["due_on"], name="installment_due_idx"),
            # The installments with anything unpaid, by loan: the nightly run reads only
            # these (a paid installment adds nothing to what is owed), and from the index
            # alone (it holds every column the run's scan reads).
            models.Index(
                fields=[
                    "loan",
                    "due_on",
                    "principal_due",
                    "principal_paid",
                    "interest_due",
                    "interest_paid",
                ],
                name="installment_unpaid_idx",
                condition=models.Q(principal_paid__lt=models.F("principal_due"))
                | models.Q(interest_paid__lt=models.F("interest_due")),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.loan_id}#{self.seq}"

    @property
    def principal_unpaid(self) -> Decimal:
        return self.principal_due - self.principal_paid

    @property
    def interest_unpaid(self) -> Decimal:
        return self.interest_due - self.interest_paid


class PenaltyPause(models.Model):
    """停息: days on which a loan accrues no penalty interest (a hold, a hardship freeze).

    Accrual days ``starts_on`` … ``ends_on`` (inclusive; open-ended while ``ends_on`` is
    empty) accrue nothing. Pauses of one loan never overlap (the services check)."""

    loan = models.ForeignKey(
        Loan, verbose_name=_("loan"), on_delete=models.CASCADE, related_name="penalty_pauses"
    )
    starts_on = models.DateField(_("from"))
    ends_on = models.DateField(_("until"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=200)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("penalty pause")
        verbose_name_plural = _("penalty pauses")
        ordering = ["loan", "starts_on"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(ends_on__isnull=True)
                | models.Q(ends_on__gte=models.F("starts_on")),
                name="penalty_pause_ends_after_start",
            )
        ]

    def __str__(self) -> str:
        return f"{self.loan_id} {self.starts_on}–{self.ends_on or ''}"


class ImportRun(models.Model):
    """One import of a portfolio file: who, when, which file, what it did."""

    client = models.ForeignKey(
        Client, verbose_name=_("client"), on_delete=models.PROTECT, related_name="imports"
    )
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("imported by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    actor_label = models.CharField(_("actor"), max_length=150, blank=True)
    file_name = models.CharField(_("file name"), max_length=255)
    file_sha256 = models.CharField(_("file SHA-256"), max_length=64, db_index=True)
    started_at = models.DateTimeField(_("started at"), auto_now_add=True)
    finished_at = models.DateTimeField(_("finished at"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=ImportStatus.choices, default=ImportStatus.RUNNING
    )
    dry_run = models.BooleanField(_("dry run"), default=False)
    counts = models.JSONField(_("counts"), default=dict, blank=True)
    error_count = models.PositiveIntegerField(_("bad rows"), default=0)
    report = models.TextField(_("report"), blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.file_name} ({self.get_status_display()})"

"""Field visits: what the risk department issues, who visits, the approved route, the
equipment, each stop and its evidence, the report.

Evidence rows are write-once: ``Evidence.save`` refuses to change a stored row and
``delete`` refuses always (the queryset too); a correction is a new row that points to
the one it corrects (``corrects``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from cuishou.core.models import MoneyField
from cuishou.visits.choices import (
    ChangeKind,
    ChangeStatus,
    EquipmentKind,
    EvidenceKind,
    FraudFinding,
    IssueStatus,
    RouteStatus,
    StopOutcome,
    StopStatus,
    TravelMode,
    VisitCaseStatus,
    VisitPurpose,
)

_USER = settings.AUTH_USER_MODEL


class FieldTeam(models.Model):
    """Two (or more) field visitors who always go out together, led by a team lead;
    the place they start from and their working hours (for the route planner)."""

    name = models.CharField(_("name"), max_length=100, unique=True)
    lead = models.ForeignKey(
        _USER, verbose_name=_("team lead"), on_delete=models.PROTECT, related_name="field_teams"
    )
    members = models.ManyToManyField(
        "accounts.User", verbose_name=_("field visitors"), related_name="field_team_memberships"
    )
    city = models.CharField(_("city"), max_length=50, blank=True)
    base = models.CharField(_("starts from"), max_length=300, blank=True)
    base_lat = models.DecimalField(
        _("latitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    base_lon = models.DecimalField(
        _("longitude"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    shift_start = models.TimeField(_("shift starts"), default="09:00")
    shift_end = models.TimeField(_("shift ends"), default="18:00")
    travel_mode = models.CharField(
        _("travel mode"),
        max_length=16,
        choices=TravelMode.choices,
        default=TravelMode.PUBLIC_TRANSPORT,
    )
    active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("field team")
        verbose_name_plural = _("field teams")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class VisitIssue(models.Model):
    """A batch of visit cases the risk department issues to a team lead (下发), which the
    team lead checks for count and amount before allocating."""

    number = models.CharField(_("issue number"), max_length=32, unique=True)
    issued_by = models.ForeignKey(
        _USER, verbose_name=_("issued by"), on_delete=models.PROTECT, related_name="+"
    )
    team_lead = models.ForeignKey(
        _USER, verbose_name=_("team lead"), on_delete=models.PROTECT, related_name="visit_issues"
    )
    issued_at = models.DateTimeField(_("issued at"))
    declared_count = models.PositiveIntegerField(_("cases issued"))
    declared_amount = MoneyField(_("amount issued"))
    status = models.CharField(
        _("status"), max_length=16, choices=IssueStatus.choices, default=IssueStatus.ISSUED
    )
    counted = models.PositiveIntegerField(_("cases counted"), null=True, blank=True)
    counted_amount = MoneyField(_("amount counted"), null=True, blank=True)
    confirmed_at = models.DateTimeField(_("checked at"), null=True, blank=True)
    confirmed_by = models.ForeignKey(
        _USER,
        verbose_name=_("checked by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    note = models.TextField(_("note"), blank=True)

    class Meta:
        verbose_name = _("visit issue")
        verbose_name_plural = _("visit issues")
        ordering = ["-issued_at", "-id"]

    def __str__(self) -> str:
        return self.number


class VisitCase(models.Model):
    """One case issued for a visit: why, which address, which team, where it stands."""

    issue = models.ForeignKey(
        VisitIssue, verbose_name=_("issue"), on_delete=models.PROTECT, related_name="cases"
    )
    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="visit_cases"
    )
    visit_request = models.ForeignKey(
        "cases.VisitRequest",
        verbose_name=_("visit request"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_cases",
    )
    purpose = models.CharField(
        _("purpose"), max_length=16, choices=VisitPurpose.choices, default=VisitPurpose.COLLECT
    )
    amount = MoneyField(_("balance when issued"))
    due_by = models.DateField(_("visit due by"), null=True, blank=True)
    phone_records = models.JSONField(_("phone records"), default=list, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=VisitCaseStatus.choices, default=VisitCaseStatus.ISSUED
    )
    status_reason = models.CharField(_("status reason"), max_length=300, blank=True)
    team = models.ForeignKey(
        FieldTeam,
        verbose_name=_("field team"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="visit_cases",
    )
    allocated_at = models.DateTimeField(_("allocated at"), null=True, blank=True)
    address = models.ForeignKey(
        "portfolio.Address",
        verbose_name=_("address to visit"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    address_reason = models.CharField(_("why this address"), max_length=300, blank=True)

    class Meta:
        verbose_name = _("visit case")
        verbose_name_plural = _("visit cases")
        ordering = ["issue", "-amount", "id"]
        indexes = [models.Index(fields=["status", "team"], name="visitcase_status_idx")]

    def __str__(self) -> str:
        return f"{self.issue.number} #{self.case_id}"


class Route(models.Model):
    """A team's day (外访批次 / 外访路线): the stops in order, approved by a risk manager
    before anyone leaves; departure, return."""

    team = models.ForeignKey(
        FieldTeam, verbose_name=_("field team"), on_delete=models.PROTECT, related_name="routes"
    )
    day = models.DateField(_("day"))
    status = models.CharField(
        _("status"), max_length=16, choices=RouteStatus.choices, default=RouteStatus.DRAFT
    )
    travel_mode = models.CharField(
        _("travel mode"),
        max_length=16,
        choices=TravelMode.choices,
        default=TravelMode.PUBLIC_TRANSPORT,
    )
    planned_by = models.ForeignKey(
        _USER,
        verbose_name=_("planned by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created at"))
    plan = models.JSONField(_("planner's figures"), default=dict, blank=True)
    submitted_at = models.DateTimeField(_("submitted at"), null=True, blank=True)
    decided_by = models.ForeignKey(
        _USER,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)
    visitors = models.ManyToManyField(
        "accounts.User",
        verbose_name=_("visitors who went"),
        blank=True,
        related_name="visited_routes",
    )
    departed_at = models.DateTimeField(_("departed at"), null=True, blank=True)
    departure_recorded_by = models.ForeignKey(
        _USER,
        verbose_name=_("departure recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    return_recorded_by = models.ForeignKey(
        _USER,
        verbose_name=_("return recorded by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("route")
        verbose_name_plural = _("routes")
        permissions = [("approve_route", _("Can approve or reject routes"))]
        ordering = ["-day", "team"]
        constraints = [
            models.UniqueConstraint(fields=["team", "day"], name="route_team_day_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.day}"


class RouteStop(models.Model):
    """One address on a route, in order, with what happened there."""

    route = models.ForeignKey(
        Route, verbose_name=_("route"), on_delete=models.CASCADE, related_name="stops"
    )
    visit_case = models.ForeignKey(
        VisitCase, verbose_name=_("visit case"), on_delete=models.PROTECT, related_name="stops"
    )
    address = models.ForeignKey(
        "portfolio.Address", verbose_name=_("address"), on_delete=models.PROTECT, related_name="+"
    )
    seq = models.PositiveSmallIntegerField(_("order"))
    expected_at = models.DateTimeField(_("expected arrival"), null=True, blank=True)
    window_start = models.DateTimeField(_("window opens"), null=True, blank=True)
    window_end = models.DateTimeField(_("window closes"), null=True, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=StopStatus.choices, default=StopStatus.PLANNED
    )
    arrived_at = models.DateTimeField(_("arrived at"), null=True, blank=True)
    arrival_lat = models.DecimalField(
        _("latitude at arrival"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    arrival_lon = models.DecimalField(
        _("longitude at arrival"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    arrival_distance_m = models.PositiveIntegerField(
        _("distance from the address (m)"), null=True, blank=True
    )
    arrival_far = models.BooleanField(_("arrived far from the address"), default=False)
    departed_at = models.DateTimeField(_("left at"), null=True, blank=True)
    outcome = models.CharField(_("outcome"), max_length=16, choices=StopOutcome.choices, blank=True)
    details = models.JSONField(_("what was done and learned"), default=dict, blank=True)
    conduct = models.JSONField(_("conduct confirmed"), default=dict, blank=True)
    fraud_finding = models.CharField(
        _("investigation finding"), max_length=16, choices=FraudFinding.choices, blank=True
    )
    notes = models.TextField(_("notes"), blank=True)
    contact_attempt = models.ForeignKey(
        "cases.ContactAttempt",
        verbose_name=_("contact record"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    promise = models.ForeignKey(
        "cases.PromiseToPay",
        verbose_name=_("promise to pay"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        verbose_name = _("stop")
        verbose_name_plural = _("stops")
        ordering = ["route", "seq"]
        constraints = [
            models.UniqueConstraint(fields=["route", "seq"], name="stop_route_seq_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.route} #{self.seq}"


class RouteChange(models.Model):
    """A change of route asked for on the day; the approver accepts or refuses it."""

    route = models.ForeignKey(
        Route, verbose_name=_("route"), on_delete=models.CASCADE, related_name="changes"
    )
    kind = models.CharField(_("change"), max_length=16, choices=ChangeKind.choices)
    stop = models.ForeignKey(
        RouteStop,
        verbose_name=_("stop"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="changes",
    )
    payload = models.JSONField(_("what changes"), default=dict, blank=True)
    reason = models.TextField(_("reason"))
    status = models.CharField(
        _("status"), max_length=16, choices=ChangeStatus.choices, default=ChangeStatus.REQUESTED
    )
    requested_by = models.ForeignKey(
        _USER, verbose_name=_("requested by"), on_delete=models.PROTECT, related_name="+"
    )
    requested_at = models.DateTimeField(_("requested at"))
    decided_by = models.ForeignKey(
        _USER,
        verbose_name=_("decided by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    decided_at = models.DateTimeField(_("decided at"), null=True, blank=True)
    decision_note = models.TextField(_("decision note"), blank=True)

    class Meta:
        verbose_name = _("route change")
        verbose_name_plural = _("route changes")
        permissions = [("decide_routechange", _("Can accept or refuse route changes"))]
        ordering = ["-requested_at", "-id"]

    def __str__(self) -> str:
        return f"{self.route} {self.kind} {self.status}"


class EquipmentLoan(models.Model):
    """An item checked out to a visitor for a route, signed for, and handed back."""

    route = models.ForeignKey(
        Route, verbose_name=_("route"), on_delete=models.CASCADE, related_name="equipment"
    )
    visitor = models.ForeignKey(
        _USER, verbose_name=_("visitor"), on_delete=models.PROTECT, related_name="+"
    )
    kind = models.CharField(_("item"), max_length=16, choices=EquipmentKind.choices)
    label = models.CharField(_("serial or document number"), max_length=64, blank=True)
    document = models.ForeignKey(
        "notices.Document",
        verbose_name=_("document"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    checked_out_at = models.DateTimeField(_("checked out at"))
    checked_out_by = models.ForeignKey(
        _USER, verbose_name=_("handed out by"), on_delete=models.PROTECT, related_name="+"
    )
    out_signature = models.CharField(_("signed out by"), max_length=100)
    returned_at = models.DateTimeField(_("returned at"), null=True, blank=True)
    returned_to = models.ForeignKey(
        _USER,
        verbose_name=_("returned to"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    return_signature = models.CharField(_("signed back by"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("equipment checked out")
        verbose_name_plural = _("equipment checked out")
        ordering = ["route", "visitor", "kind"]
        constraints = [
            models.UniqueConstraint(
                fields=["route", "visitor", "kind"], name="equipment_once_per_route"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} → {self.visitor}"


class EvidenceQuerySet(models.QuerySet["Evidence"]):
    def delete(self) -> Any:
        raise EvidenceImmutableError(_("Evidence is never deleted."))

    def update(self, **kwargs: Any) -> int:
        raise EvidenceImmutableError(_("Evidence is never changed; add a correction instead."))


class EvidenceImmutableError(Exception):
    """An attempt to change or delete stored evidence."""


def evidence_path(instance: Evidence, filename: str) -> str:
    return f"evidence/{instance.sha256[:2]}/{instance.sha256}{_suffix(filename)}"


def _suffix(filename: str) -> str:
    dot = filename.rfind(".")
    return filename[dot:].lower()[:10] if dot > 0 else ""


class Evidence(models.Model):
    """A photo, recording, signed receipt or report: stored once under its SHA-256, with
    the capture time and place the file says and the phone reported, and the flags the
    checks raised. Never changed or deleted; ``corrects`` points to the item a later one
    corrects."""

    case = models.ForeignKey(
        "cases.Case", verbose_name=_("case"), on_delete=models.PROTECT, related_name="evidence"
    )
    route = models.ForeignKey(
        Route,
        verbose_name=_("route"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
    )
    stop = models.ForeignKey(
        RouteStop,
        verbose_name=_("stop"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="evidence",
    )
    kind = models.CharField(_("kind"), max_length=16, choices=EvidenceKind.choices)
    file = models.FileField(_("file"), upload_to=evidence_path, max_length=200)
    file_name = models.CharField(_("file name"), max_length=255)
    content_type = models.CharField(_("content type"), max_length=100)
    size = models.PositiveBigIntegerField(_("size (bytes)"))
    sha256 = models.CharField(_("SHA-256"), max_length=64, db_index=True)
    uploaded_by = models.ForeignKey(
        _USER, verbose_name=_("uploaded by"), on_delete=models.PROTECT, related_name="+"
    )
    uploaded_at = models.DateTimeField(_("uploaded at"))
    captured_at = models.DateTimeField(_("captured at (file)"), null=True, blank=True)
    file_lat = models.DecimalField(
        _("latitude (file)"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    file_lon = models.DecimalField(
        _("longitude (file)"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    phone_at = models.DateTimeField(_("time (phone)"), null=True, blank=True)
    phone_lat = models.DecimalField(
        _("latitude (phone)"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    phone_lon = models.DecimalField(
        _("longitude (phone)"), max_digits=9, decimal_places=6, null=True, blank=True
    )
    declared_start = models.DateTimeField(_("declared start"), null=True, blank=True)
    declared_end = models.DateTimeField(_("declared end"), null=True, blank=True)
    duration_seconds = models.DecimalField(
        _("duration (s)"), max_digits=9, decimal_places=2, null=True, blank=True
    )
    meta = models.JSONField(_("file metadata"), default=dict, blank=True)
    flags = models.JSONField(_("flags"), default=list, blank=True)
    corrects = models.ForeignKey(
        "self",
        verbose_name=_("corrects"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="corrections",
    )
    note = models.TextField(_("note"), blank=True)

    objects = EvidenceQuerySet.as_manager()

    class Meta:
        verbose_name = _("evidence")
        verbose_name_plural = _("evidence")
        ordering = ["uploaded_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.sha256[:12]}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise EvidenceImmutableError(_("Evidence is never changed; add a correction instead."))
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise EvidenceImmutableError(_("Evidence is never deleted."))


class VisitReport(models.Model):
    """The day's report (上门催收情况报告): generated from the stops, with the visitors'
    summary, submitted to the team lead; its PDF is evidence in each case file."""

    route = models.OneToOneField(
        Route, verbose_name=_("route"), on_delete=models.PROTECT, related_name="report"
    )
    summary = models.TextField(_("summary"))
    content = models.JSONField(_("report"), default=dict)
    submitted_by = models.ForeignKey(
        _USER, verbose_name=_("submitted by"), on_delete=models.PROTECT, related_name="+"
    )
    submitted_at = models.DateTimeField(_("submitted at"))
    pdf = models.ForeignKey(
        Evidence,
        verbose_name=_("PDF"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_by = models.ForeignKey(
        _USER,
        verbose_name=_("reviewed by"),
        on_delete=models.PROTECT,
        null=True,
        blank=True,
        related_name="+",
    )
    reviewed_at = models.DateTimeField(_("reviewed at"), null=True, blank=True)

    class Meta:
        verbose_name = _("visit report")
        verbose_name_plural = _("visit reports")
        permissions = [("review_visitreport", _("Can review visit reports"))]

    def __str__(self) -> str:
        return f"{self.route}"

"""Reads of cases, always scoped to what the user may see.

Pages, API and exports all start from ``case_visible_queryset`` so a collector sees
only the cases assigned to them, whatever the entry point.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Q, QuerySet
from django.http import Http404
from django.utils.translation import gettext as _

from cuishou.accounts.choices import Role
from cuishou.audit.models import AuditEvent
from cuishou.cases.models import Case
from cuishou.portfolio.models import Address, ContactPoint, Installment, Loan, RelatedPerson


def case_visible_queryset(user: Any) -> QuerySet[Case]:
    """Every case ``user`` may see; empty for anonymous or role-less users."""
    qs = Case.objects.all()
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return qs.none()
    if user.is_superuser or user.has_perm("cases.view_all_cases"):
        scope = Q()
    else:
        scope = Q(assignee=user)
        if user.has_perm("cases.view_team_cases"):
            scope |= Q(assignee__team__lead=user)
        if user.has_role(Role.CLIENT) and user.client_id:
            scope |= Q(client_id=user.client_id)
        if user.has_perm("visits.change_routestop"):
            scope |= _visit_scope(user)
    if user.has_role(Role.CLIENT) and not user.is_superuser:
        # A client user never sees another client's cases, whatever else it holds.
        if not user.client_id:
            return qs.none()
        qs = qs.filter(client_id=user.client_id)
    return qs.filter(scope)


def _visit_scope(user: Any) -> Q:
    """A field visitor sees the cases on the routes of the field teams they belong to
    (the case materials they carry and the file their stops are logged in)."""
    from cuishou.visits.models import RouteStop

    stops = RouteStop.objects.filter(route__team__members=user)
    return Q(pk__in=stops.values("visit_case__case_id"))


def case_require_in_scope(user: Any, case: Case) -> None:
    """PermissionDenied unless ``user`` may see ``case``: the check every write on a case
    the caller already holds makes (a page or the API found it with
    ``case_get_for_user``; a service checks again)."""
    if not case_visible_queryset(user).filter(pk=case.pk).exists():
        raise PermissionDenied(_("This case is not in your scope."))


def user_may_contact(user: Any) -> bool:
    """Whether ``user`` may log contacts at all (a role that works cases)."""
    return bool(
        getattr(user, "is_authenticated", False) and user.has_perm("cases.add_contactattempt")
    )


def case_work_require(actor: Any, case: Case) -> None:
    """PermissionDenied unless ``actor`` works cases and may see this one."""
    if not user_may_contact(actor):
        raise PermissionDenied(_("This role does not contact debtors."))
    case_require_in_scope(actor, case)


def case_file_members(
    case: Case, *, contact_point_id: int | None, related_person_id: int | None
) -> tuple[ContactPoint | None, RelatedPerson | None]:
    """The contact point and related person a contact names by id (None for no id),
    from this case's file only; ValidationError naming the field for an id outside it."""
    point = person = None
    errors: dict[str, list[str]] = {}
    if contact_point_id is not None:
        point = ContactPoint.objects.filter(pk=contact_point_id, debtor_id=case.debtor_id).first()
        if point is None:
            errors["contact_point"] = [_("That contact point is not in this case's file.")]
    if related_person_id is not None:
        person = RelatedPerson.objects.filter(
            pk=related_person_id, debtor_id=case.debtor_id
        ).first()
        if person is None:
            errors["related_person"] = [_("That person is not in this case's file.")]
    if errors:
        raise ValidationError(errors)
    return point, person


def case_get_for_user(user: Any, pk: int) -> Case:
    """The case if ``user`` may see it; otherwise Http404 (never 403: no existence leak)."""
    case = (
        case_visible_queryset(user)
        .select_related("client", "debtor", "assignee", "strategy")
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404("No such case")
    return case


@dataclass(frozen=True)
class CaseFile:
    """What a case's file holds besides the case row: the debtor's related persons,
    contact points and addresses, and the debtor's loans with this client."""

    related_persons: list[RelatedPerson]
    contacts: list[ContactPoint]
    addresses: list[Address]
    loans: list[Loan]


def case_file_get(case: Case) -> CaseFile:
    """The file of ``case`` (already scoped by ``case_get_for_user``), in four queries and
    one for the loans' schedules, whatever its size."""
    loans = (
        Loan.objects.filter(debtor_id=case.debtor_id, client_id=case.client_id)
        .select_related("product")
        .prefetch_related(Prefetch("installments", Installment.objects.order_by("seq")))
        .order_by("contract_no")
    )
    return CaseFile(
        related_persons=list(RelatedPerson.objects.filter(debtor_id=case.debtor_id).order_by("id")),
        contacts=list(
            ContactPoint.objects.filter(debtor_id=case.debtor_id).order_by("-is_primary", "id")
        ),
        addresses=list(Address.objects.filter(debtor_id=case.debtor_id).order_by("kind", "id")),
        loans=list(loans),
    )


def case_timeline_events(
    case: Case, *, loan_ids: Iterable[int] | None = None
) -> QuerySet[AuditEvent]:
    """The audit events about ``case``, in chain order: those of the case, plus case-less
    ones about its debtor and the debtor's loans with this client (``loan_ids``, looked up
    when not given). Another case's events about the same debtor are not included."""
    if loan_ids is None:
        loan_ids = Loan.objects.filter(
            debtor_id=case.debtor_id, client_id=case.client_id
        ).values_list("pk", flat=True)
    about_file = Q(object_type="portfolio.debtor", object_id=str(case.debtor_id)) | Q(
        object_type="portfolio.loan", object_id__in=[str(i) for i in loan_ids]
    )
    return AuditEvent.objects.filter(
        Q(case_id=case.pk)
        | Q(object_type="cases.case", object_id=str(case.pk))
        | (Q(case_id__isnull=True) & about_file)
    ).order_by("seq")


def user_may_reveal_pii(user: Any) -> bool:
    """Whether ``user`` may see unmasked ID numbers and phones (each reveal is audited).

    Client users never may, whatever other group they were put in.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.has_role(Role.CLIENT) and not user.is_superuser:
        return False
    return bool(user.has_perm("cases.reveal_pii"))


def user_sees_all_cases(user: Any) -> bool:
    """Whether ``user`` sees every case (a client user never does)."""
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return bool(user.has_perm("cases.view_all_cases")) and not user.has_role(Role.CLIENT)


def loan_visible_to(user: Any, *, client_id: int, debtor_id: int) -> bool:
    """Whether ``user`` may see a loan of this client and debtor.

    The loan is visible when its case is (same rule as pages and exports); loans without a
    case only to users who see every case, and to the client's own users.
    """
    if not getattr(user, "is_authenticated", False) or not user.is_active:
        return False
    if user_sees_all_cases(user):
        return True
    if user.has_role(Role.CLIENT):
        return bool(user.client_id) and user.client_id == client_id
    return case_visible_queryset(user).filter(client_id=client_id, debtor_id=debtor_id).exists()

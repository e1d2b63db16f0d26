"""Reads of cases, always scoped to what the user may see.

Pages, API and exports all start from ``case_visible_queryset`` so a collector sees
only the cases assigned to them, whatever the entry point.
"""

from __future__ import annotations

from typing import Any

from django.db.models import Q, QuerySet
from django.http import Http404

from cuishou.accounts.choices import Role
from cuishou.cases.models import Case


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
    if user.has_role(Role.CLIENT) and not user.is_superuser:
        # A client user never sees another client's cases, whatever else it holds.
        if not user.client_id:
            return qs.none()
        qs = qs.filter(client_id=user.client_id)
    return qs.filter(scope)


def case_get_for_user(user: Any, pk: int) -> Case:
    """The case if ``user`` may see it; otherwise Http404 (never 403: no existence leak)."""
    case = (
        case_visible_queryset(user)
        .select_related("client", "debtor", "assignee")
        .filter(pk=pk)
        .first()
    )
    if case is None:
        raise Http404("No such case")
    return case


def user_may_reveal_pii(user: Any) -> bool:
    return bool(getattr(user, "is_authenticated", False) and user.has_perm("cases.reveal_pii"))

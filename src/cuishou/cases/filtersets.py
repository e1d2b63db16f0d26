"""Filters for case lists, shared by the case list page and the API.

Query parameters (all optional, combined with AND):

- ``bucket`` — one or more of ``M0`` … ``M6``, ``M7+`` (repeat the parameter).
- ``stage``, ``status`` — a ``Stage`` / ``CaseStatus`` value.
- ``assignee`` — the assignee's username.
- ``client`` — the client's code.
- ``amount_min``, ``amount_max`` — bounds (inclusive) on the outstanding balance.
- ``dpd_min``, ``dpd_max`` — bounds (inclusive) on days past due.
- ``q`` — part of the debtor's name or of a contract number of the case's loans.

The filterset narrows whatever queryset it is given; callers start from
``case_visible_queryset(user)`` so nobody sees more than their scope. With a request,
the client and assignee choices are limited to those of the user's visible cases.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils.translation import gettext_lazy as _

from cuishou.accounts.models import User
from cuishou.cases.choices import CaseStatus, Stage
from cuishou.cases.models import Case
from cuishou.cases.selectors import case_visible_queryset
from cuishou.portfolio.choices import Bucket
from cuishou.portfolio.models import Client, Loan


def _in_visible_cases(qs: QuerySet[Any], request: Any, field: str) -> QuerySet[Any]:
    """``qs`` narrowed to the rows some case the request's user may see points to by ``field``."""
    user = getattr(request, "user", None)
    if user is None:
        return qs
    return qs.filter(Exists(case_visible_queryset(user).filter(**{field: OuterRef("pk")})))


def _client_choices(request: Any) -> QuerySet[Client]:
    return _in_visible_cases(Client.objects.order_by("code"), request, "client")


def _assignee_choices(request: Any) -> QuerySet[User]:
    return _in_visible_cases(User.objects.order_by("username"), request, "assignee")


class CaseFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(
        label=_("Debtor name or contract number"),
        method="filter_q",
        widget=forms.TextInput(attrs={"type": "search"}),
    )
    bucket = django_filters.MultipleChoiceFilter(
        label=_("Bucket (账龄)"),
        choices=Bucket.choices,
        widget=forms.CheckboxSelectMultiple,
    )
    stage = django_filters.ChoiceFilter(
        label=_("Stage (催收阶段)"), choices=Stage.choices, empty_label=_("any stage")
    )
    status = django_filters.ChoiceFilter(
        label=_("Status"), choices=CaseStatus.choices, empty_label=_("any status")
    )
    client = django_filters.ModelChoiceFilter(
        label=_("Client (委托方)"),
        queryset=_client_choices,
        to_field_name="code",
        empty_label=_("any client"),
    )
    assignee = django_filters.ModelChoiceFilter(
        label=_("Assignee"),
        queryset=_assignee_choices,
        to_field_name="username",
        empty_label=_("anyone"),
    )
    amount_min = django_filters.NumberFilter(
        label=_("Balance from"), field_name="balance", lookup_expr="gte", min_value=0
    )
    amount_max = django_filters.NumberFilter(
        label=_("Balance to"), field_name="balance", lookup_expr="lte", min_value=0
    )
    dpd_min = django_filters.NumberFilter(
        label=_("Days past due from"), field_name="dpd", lookup_expr="gte", min_value=0
    )
    dpd_max = django_filters.NumberFilter(
        label=_("Days past due to"), field_name="dpd", lookup_expr="lte", min_value=0
    )

    class Meta:
        model = Case
        fields: list[str] = []

    def filter_q(self, queryset: QuerySet[Case], name: str, value: str) -> QuerySet[Case]:
        text = value.strip()
        if not text:
            return queryset
        contract = Loan.objects.filter(
            debtor_id=OuterRef("debtor_id"),
            client_id=OuterRef("client_id"),
            contract_no__icontains=text,
        )
        return queryset.filter(Q(debtor__name__icontains=text) | Exists(contract))

"""Which permissions each role (Django group) holds. ``roles_sync`` applies this table."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission
from django.db import transaction

from cuishou.accounts.choices import Role

_VIEW_PORTFOLIO = [
    "portfolio.view_client",
    "portfolio.view_product",
    "portfolio.view_debtor",
    "portfolio.view_relatedperson",
    "portfolio.view_contactpoint",
    "portfolio.view_address",
    "portfolio.view_loan",
    "portfolio.view_installment",
    "cases.view_case",
]

ROLE_PERMISSIONS: dict[str, list[str]] = {
    Role.COLLECTOR: [*_VIEW_PORTFOLIO, "cases.reveal_pii"],
    Role.FIELD_VISITOR: [*_VIEW_PORTFOLIO, "cases.reveal_pii"],
    Role.TEAM_LEAD: [
        *_VIEW_PORTFOLIO,
        "cases.view_team_cases",
        "cases.change_case",
        "cases.reveal_pii",
    ],
    Role.RISK_MANAGER: [
        *_VIEW_PORTFOLIO,
        "cases.view_all_cases",
        "cases.change_case",
        "cases.reveal_pii",
        "portfolio.add_importrun",
        "portfolio.view_importrun",
        "portfolio.change_product",
        "portfolio.add_client",
        "portfolio.change_client",
        "audit.view_auditevent",
    ],
    Role.LEGAL_OFFICER: [*_VIEW_PORTFOLIO, "cases.view_all_cases", "cases.reveal_pii"],
    Role.COMPLIANCE_OFFICER: [
        *_VIEW_PORTFOLIO,
        "cases.view_all_cases",
        "audit.view_auditevent",
        "portfolio.view_importrun",
    ],
    Role.FINANCE: [*_VIEW_PORTFOLIO, "cases.view_all_cases"],
    # A client user sees its own client's portfolio, read-only and masked.
    Role.CLIENT: [*_VIEW_PORTFOLIO],
}


def _permission(code: str) -> Permission:
    app_label, codename = code.split(".", 1)
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


@transaction.atomic
def roles_sync() -> dict[str, Group]:
    """Create or update one group per role with exactly its permissions."""
    groups: dict[str, Group] = {}
    for role in Role:
        group, _ = Group.objects.get_or_create(name=role.value)
        group.permissions.set([_permission(code) for code in ROLE_PERMISSIONS[role]])
        groups[role.value] = group
    return groups

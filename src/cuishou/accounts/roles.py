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

_SEE_STAFF = ["accounts.view_user", "accounts.view_team"]

# Logging contacts, promises and disputes on the cases one may see.
_WORK_CASES = [
    "cases.add_contactattempt",
    "cases.view_contactattempt",
    "cases.add_promisetopay",
    "cases.view_promisetopay",
    "cases.add_dispute",
    "cases.view_dispute",
]

# Repayment plans and settlements on the cases one works, and a receipt for a payment
# (``cases.plans``, ``cases.settlements``, ``cases.receipts``); which settlements a role
# approves is its ``SettlementLimit`` row.
_PLANS = [
    "cases.agree_plan",
    "cases.view_repaymentplan",
    "cases.request_settlement",
    "cases.view_settlement",
    "cases.add_receipt",
]
_APPROVE_SETTLEMENT = ["cases.approve_settlement", "cases.view_settlement"]

# Asking for a compliance override (of a rule the pack marks overridable) on a case one
# works; a compliance officer decides it (``compliance.overrides``: by role, not permission).
_ASK_OVERRIDE = ["compliance.add_complianceoverride", "compliance.view_complianceoverride"]

# Written collection (``cuishou.notices``): rendering and sending notices on the cases one
# works, recording hand-overs and signed receipts; campaigns and print batches for those
# who run the post and bulk sends; writing templates (a compliance officer approves them:
# by role, ``notices.templates.template_decide``).
_NOTICES = [
    "notices.view_noticetemplate",
    "notices.add_document",
    "notices.view_document",
    "notices.add_dispatch",
    "notices.view_dispatch",
    "notices.add_signedreceipt",
    "notices.view_signedreceipt",
]
_NOTICE_BULK = [
    "notices.add_campaign",
    "notices.view_campaign",
    "notices.add_printbatch",
    "notices.view_printbatch",
]
_NOTICE_AUTHOR = [
    "notices.add_noticetemplate",
    "notices.change_noticetemplate",
    "notices.view_noticetemplate",
]

# Field visits (``cuishou.visits``). Visitors work their own team's approved routes:
# stops, evidence, change requests, the report. Team leads check and allocate the cases
# issued to them, plan routes, decide changes on the day and review reports. Risk managers
# issue visit cases, approve routes, hand out and take back equipment.
_VISIT_FIELD = [
    "visits.view_fieldteam",
    "visits.view_route",
    "visits.view_routestop",
    "visits.change_routestop",
    "visits.add_evidence",
    "visits.view_evidence",
    "visits.add_routechange",
    "visits.view_routechange",
    "visits.view_equipmentloan",
    "visits.add_visitreport",
    "visits.view_visitreport",
]
_VISIT_DESK = [
    "visits.view_fieldteam",
    "visits.view_visitissue",
    "visits.view_visitcase",
    "visits.view_route",
    "visits.view_routestop",
    "visits.view_routechange",
    "visits.decide_routechange",
    "visits.view_equipmentloan",
    "visits.view_evidence",
    "visits.view_visitreport",
]
_VISIT_LEAD = [
    *_VISIT_DESK,
    "visits.change_visitissue",
    "visits.change_visitcase",
    "visits.add_route",
    "visits.change_route",
    "visits.review_visitreport",
]
_VISIT_RISK = [
    *_VISIT_DESK,
    "visits.add_visitissue",
    "visits.approve_route",
    "visits.add_equipmentloan",
    "visits.change_equipmentloan",
    "visits.add_fieldteam",
    "visits.change_fieldteam",
]

# Reveal of ID numbers and phones (``cases.reveal_pii``) goes to the roles that contact
# debtors or act on their identity; compliance, finance and clients see them masked.
ROLE_PERMISSIONS: dict[str, list[str]] = {
    # Works an assigned queue: calls, SMS, promises, notes.
    Role.COLLECTOR: [
        *_VIEW_PORTFOLIO,
        *_WORK_CASES,
        "cases.reveal_pii",
        *_ASK_OVERRIDE,
        *_PLANS,
        *_NOTICES,
    ],
    # Visits the addresses of assigned cases.
    Role.FIELD_VISITOR: [
        *_VIEW_PORTFOLIO,
        *_WORK_CASES,
        "cases.reveal_pii",
        *_NOTICES,
        *_VISIT_FIELD,
    ],
    # Receives visit cases, allocates them within the teams they lead, reviews reports.
    Role.TEAM_LEAD: [
        *_VIEW_PORTFOLIO,
        *_SEE_STAFF,
        "cases.view_team_cases",
        "cases.change_case",
        "cases.reveal_pii",
        *_WORK_CASES,
        "cases.change_dispute",
        "cases.allocate_cases",
        "cases.close_case",
        "cases.approve_deescalation",
        *_ASK_OVERRIDE,
        *_PLANS,
        *_APPROVE_SETTLEMENT,
        *_NOTICES,
        *_NOTICE_BULK,
        *_VISIT_LEAD,
    ],
    # Issues cases, approves routes and equipment, sets strategy, manages clients/products.
    Role.RISK_MANAGER: [
        *_VIEW_PORTFOLIO,
        *_SEE_STAFF,
        "cases.view_all_cases",
        "cases.change_case",
        "cases.reveal_pii",
        *_WORK_CASES,
        "cases.change_dispute",
        "cases.allocate_cases",
        "cases.close_case",
        "cases.approve_deescalation",
        "cases.approve_write_off",
        *_PLANS,
        *_APPROVE_SETTLEMENT,
        "cases.change_settlementlimit",
        "cases.view_settlementlimit",
        "cases.add_strategy",
        "cases.change_strategy",
        "cases.view_strategy",
        "cases.change_collectorprofile",
        "cases.view_collectorprofile",
        "portfolio.add_importrun",
        "portfolio.view_importrun",
        "portfolio.change_product",
        "portfolio.add_client",
        "portfolio.change_client",
        "audit.view_auditevent",
        "compliance.add_contacthold",
        "compliance.change_contacthold",
        "compliance.view_contacthold",
        "compliance.view_complianceoverride",
        "payments.view_payment",
        "payments.view_paymentreversal",
        "payments.approve_reversal",
        "portfolio.add_contactconsent",
        "portfolio.view_contactconsent",
        *_NOTICES,
        *_NOTICE_BULK,
        *_NOTICE_AUTHOR,
        *_VISIT_RISK,
    ],
    # Lawyer's letters, litigation, enforcement: moves cases into the legal stage.
    Role.LEGAL_OFFICER: [
        *_VIEW_PORTFOLIO,
        "cases.view_all_cases",
        "cases.change_case",
        "cases.reveal_pii",
        *_WORK_CASES,
        "cases.change_dispute",
        *_APPROVE_SETTLEMENT,
        "compliance.add_contacthold",
        "compliance.change_contacthold",
        "compliance.view_contacthold",
        "portfolio.add_contactconsent",
        "portfolio.view_contactconsent",
        *_NOTICES,
        *_NOTICE_BULK,
        *_NOTICE_AUTHOR,
    ],
    # Policy packs, template approval, audit review.
    Role.COMPLIANCE_OFFICER: [
        *_VIEW_PORTFOLIO,
        *_SEE_STAFF,
        "cases.view_all_cases",
        "cases.view_contactattempt",
        "cases.view_promisetopay",
        "cases.view_dispute",
        "audit.view_auditevent",
        "portfolio.view_importrun",
        "compliance.add_clientrule",
        "compliance.change_clientrule",
        "compliance.delete_clientrule",
        "compliance.view_clientrule",
        "compliance.add_contacthold",
        "compliance.change_contacthold",
        "compliance.view_contacthold",
        "compliance.view_complianceoverride",
        "portfolio.add_contactconsent",
        "portfolio.view_contactconsent",
        *_NOTICE_AUTHOR,
        "notices.view_document",
        "notices.view_dispatch",
        "notices.view_campaign",
    ],
    # Payments, reconciliation, settlements (by contract number; identities stay masked).
    # Posting a payment and asking for a reversal; approving another person's reversal.
    Role.FINANCE: [
        *_VIEW_PORTFOLIO,
        "cases.view_all_cases",
        "payments.add_payment",
        "payments.view_payment",
        "payments.add_paymentreversal",
        "payments.view_paymentreversal",
        "payments.approve_reversal",
        "cases.view_settlement",
        "cases.add_receipt",
    ],
    # A client user sees its own client's portfolio, read-only and masked
    # (``case_visible_queryset`` narrows to ``User.client``).
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

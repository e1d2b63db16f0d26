from django.db import models
from django.utils.translation import gettext_lazy as _


class Role(models.TextChoices):
    """The roles of DESIGN.md; each is a Django group of the same name."""

    COLLECTOR = "collector", _("Collector (电催员)")
    FIELD_VISITOR = "field_visitor", _("Field visitor (外访员)")
    TEAM_LEAD = "team_lead", _("Team lead (客户负责人)")
    RISK_MANAGER = "risk_manager", _("Risk manager (风控经理)")
    LEGAL_OFFICER = "legal_officer", _("Legal officer (法务)")
    COMPLIANCE_OFFICER = "compliance_officer", _("Compliance officer (合规)")
    FINANCE = "finance", _("Finance (财务)")
    CLIENT = "client", _("Client (委托方)")

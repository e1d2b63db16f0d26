"""Notice templates are Django templates run in a sandbox.

- Their own engine (``NOTICE_ENGINE``) knows only a few tags (``if``, ``for``, ``with``,
  ``firstof``, ``comment``) and filters (dates, defaults, case, ``money``): no ``load``,
  ``include``, ``extends``, ``url``, ``debug`` or ``csrf_token``; no template loaders.
- They see only the documented variables (``VARIABLES``), as plain values (dicts,
  strings, Decimals, dates), never model instances: nothing reaches a method that writes
  or reads the database. ``template_problems`` refuses a template that names any other
  variable, and a third-party template that names the debt's.
- Output is text (no autoescape); a letter's text is escaped when it goes into the
  letter's HTML (``documents``).
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

from django import template
from django.template import Context, Engine, TemplateSyntaxError, defaultfilters, defaulttags
from django.template.base import Lexer, TokenType
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from cuishou.core.money import format_money_display
from cuishou.notices.choices import Audience

register = template.Library()
for _name in ("if", "for", "with", "firstof", "comment"):
    register.tag(_name, defaulttags.register.tags[_name])
for _name in (
    "date",
    "default",
    "default_if_none",
    "upper",
    "lower",
    "title",
    "length",
    "join",
    "floatformat",
    "yesno",
    "first",
    "last",
):
    register.filter(_name, defaultfilters.register.filters[_name])


@register.filter
def money(value: Any) -> str:
    """``1234.5`` → ``1,234.50``."""
    return format_money_display(value)


class _SandboxEngine(Engine):
    default_builtins = ["cuishou.notices.sandbox"]


NOTICE_ENGINE = _SandboxEngine(
    loaders=[], libraries={}, builtins=[], autoescape=False, debug=False, string_if_invalid=""
)

# The variables a template may use, by audience, with what each holds.
_DEBTOR_VARIABLES: dict[str, Any] = {
    "today": gettext_lazy("the document's date"),
    "document.number": gettext_lazy("the document number (also in its QR code)"),
    "recipient.name": gettext_lazy("the recipient's name"),
    "debtor.name": gettext_lazy("the debtor's name"),
    "debtor.address": gettext_lazy("the debtor's mailing (else residence) address"),
    "creditor.name": gettext_lazy("the creditor (委托方)"),
    "contract.number": gettext_lazy("the contract number (the first, when several)"),
    "contract.product": gettext_lazy("the product"),
    "contract.principal": gettext_lazy("the principal lent"),
    "contract.disbursed_on": gettext_lazy("the date the loan was paid out"),
    "contracts": gettext_lazy(
        "every contract: number, product, overdue_principal, overdue_interest, penalty, balance"
    ),
    "balance.as_of": gettext_lazy("the date of the figures"),
    "balance.currency": gettext_lazy("the currency"),
    "balance.overdue_principal": gettext_lazy("overdue principal"),
    "balance.overdue_interest": gettext_lazy("overdue interest"),
    "balance.penalty": gettext_lazy("penalty interest (罚息)"),
    "balance.overdue": gettext_lazy("the overdue amount (principal, interest and penalty)"),
    "balance.outstanding_principal": gettext_lazy("the principal not yet repaid"),
    "balance.total": gettext_lazy("the whole balance owed"),
    "itemization.date": gettext_lazy("the itemization date (Regulation F)"),
    "itemization.owed": gettext_lazy("what was owed on the itemization date"),
    "itemization.interest": gettext_lazy("interest charged since then"),
    "itemization.fees": gettext_lazy("fees charged since then"),
    "itemization.payments": gettext_lazy("payments and credits since then"),
    "itemization.total": gettext_lazy("what is owed now"),
    "deadline": gettext_lazy("the payment deadline"),
    "dispute_by": gettext_lazy("the last day to dispute the debt"),
    "how_to_pay": gettext_lazy("how to pay"),
    "how_to_dispute": gettext_lazy("how to dispute"),
    "collector.name": gettext_lazy("the collector's name"),
    "signer.name": gettext_lazy("the legal officer who signs (lawyer's letter)"),
    "office.name": gettext_lazy("the office's name"),
    "office.address": gettext_lazy("the office's address"),
    "office.phone": gettext_lazy("the office's phone"),
    "office.email": gettext_lazy("the office's e-mail"),
    "office.hours": gettext_lazy("the office's hours"),
    "visitors": gettext_lazy("the field visitors' names (letter of introduction)"),
}
# A third party learns nothing of the debt: no creditor, contract, balance or deadline.
_THIRD_PARTY_VARIABLES = {
    k: v
    for k, v in _DEBTOR_VARIABLES.items()
    if k.split(".")[0]
    in {"today", "document", "recipient", "collector", "office", "visitors", "signer"}
}
VARIABLES: dict[str, dict[str, Any]] = {
    Audience.DEBTOR: _DEBTOR_VARIABLES,
    Audience.THIRD_PARTY: _THIRD_PARTY_VARIABLES,
}


def roots_of(audience: str) -> frozenset[str]:
    return frozenset(name.split(".")[0] for name in VARIABLES[audience])


_STRING = re.compile(r"\"(?:[^\"\\]|\\.)*\"|'(?:[^'\\]|\\.)*'")
_NAME = re.compile(r"(?<![\w.|:])([A-Za-z_]\w*)")
_KEYWORDS = frozenset({"and", "or", "not", "in", "is", "None", "True", "False", "as", "reversed"})
_ALLOWED_TAGS = frozenset(
    {"if", "elif", "else", "endif", "for", "empty", "endfor", "with", "endwith", "firstof"}
)
_TAG = re.compile(r"^\s*(\w+)")


def _names_in(expression: str) -> list[str]:
    """The variable roots an expression names (string literals, filters and their
    arguments, numbers and keywords left out)."""
    text = _STRING.sub('""', expression)
    names = []
    for part in text.split("|")[:1] + [p.split(":", 1)[1] for p in text.split("|")[1:] if ":" in p]:
        for match in _NAME.finditer(part):
            if match.group(1) not in _KEYWORDS:
                names.append(match.group(1))
    return names


def template_problems(source: str, *, audience: str) -> list[str]:
    """Why ``source`` cannot be a notice template for ``audience`` (empty: it can)."""
    try:
        NOTICE_ENGINE.from_string(source)
    except TemplateSyntaxError as exc:
        return [_("The template does not compile: %(error)s") % {"error": exc}]
    known = roots_of(audience)
    declared: set[str] = set()
    problems: list[str] = []
    unknown: list[str] = []
    for token in Lexer(source).tokenize():
        if token.token_type == TokenType.VAR:
            unknown += [n for n in _names_in(token.contents) if n not in known | declared]
        elif token.token_type == TokenType.BLOCK:
            match = _TAG.match(token.contents)
            tag = match.group(1) if match else ""
            if tag not in _ALLOWED_TAGS:
                problems.append(_("The tag “%(tag)s” is not allowed.") % {"tag": tag})
                continue
            rest = token.contents[len(tag) :].strip()
            if tag == "for":
                loop, _sep, sequence = rest.partition(" in ")
                declared |= {v.strip() for v in loop.split(",")} | {"forloop"}
                rest = sequence
            elif tag == "with":
                for part in rest.split():
                    name, eq, value = part.partition("=")
                    if eq:
                        unknown += [n for n in _names_in(value) if n not in known | declared]
                        declared.add(name)
                rest = ""
            unknown += [n for n in _names_in(rest) if n not in known | declared]
    for name in dict.fromkeys(unknown):
        if audience == Audience.THIRD_PARTY and name in roots_of(Audience.DEBTOR):
            problems.append(
                _("“%(name)s” is about the debt: a text for a third party cannot use it.")
                % {"name": name}
            )
        else:
            problems.append(_("“%(name)s” is not a documented variable.") % {"name": name})
    return problems


def render_text(source: str, context: dict[str, Any]) -> str:
    """Render a template's text with ``context`` (plain values only)."""
    return NOTICE_ENGINE.from_string(source).render(Context(context, autoescape=False))


def sample_context(*, audience: str, language: str) -> dict[str, Any]:
    """Plausible values of every documented variable, for previews and approval checks."""
    today = dt.date(2026, 11, 16)
    office = {
        "name": "示例资产管理有限公司" if language == "zh-hans" else "Example Recovery LLC",
        "address": "上海市浦东新区世纪大道100号"
        if language == "zh-hans"
        else "1 Main St, Boston, MA 02110",
        "phone": "021-55550100",
        "email": "office@example.com",
        "hours": "09:00-18:00",
    }
    context: dict[str, Any] = {
        "today": today,
        "document": {"number": "N20261116-0A1B2C3D"},
        "recipient": {"name": "张三" if language == "zh-hans" else "John Smith"},
        "collector": {"name": "陈明" if language == "zh-hans" else "Chen Ming"},
        "signer": {"name": "王律师" if language == "zh-hans" else "Wang, legal officer"},
        "office": office,
        "visitors": ["陈明", "刘强"] if language == "zh-hans" else ["Chen Ming", "Liu Qiang"],
    }
    if audience == Audience.THIRD_PARTY:
        return context
    contract = {
        "number": "HT-000001",
        "product": "消费贷",
        "principal": Decimal("6000.00"),
        "disbursed_on": dt.date(2026, 5, 1),
        "overdue_principal": Decimal("1500.00"),
        "overdue_interest": Decimal("75.00"),
        "penalty": Decimal("12.34"),
        "balance": Decimal("6087.34"),
    }
    context.update(
        {
            "debtor": {"name": context["recipient"]["name"], "address": office["address"]},
            "creditor": {"name": "示例银行" if language == "zh-hans" else "Example Bank"},
            "contract": contract,
            "contracts": [contract],
            "balance": {
                "as_of": today,
                "currency": "CNY",
                "overdue_principal": Decimal("1500.00"),
                "overdue_interest": Decimal("75.00"),
                "penalty": Decimal("12.34"),
                "overdue": Decimal("1587.34"),
                "outstanding_principal": Decimal("6000.00"),
                "total": Decimal("6087.34"),
            },
            "itemization": {
                "date": dt.date(2026, 9, 1),
                "owed": Decimal("6000.00"),
                "interest": Decimal("87.34"),
                "fees": Decimal("0.00"),
                "payments": Decimal("0.00"),
                "total": Decimal("6087.34"),
            },
            "deadline": today + dt.timedelta(days=14),
            "dispute_by": today + dt.timedelta(days=35),
            "how_to_pay": "转账至示例银行 6222 0000 0000 0000"
            if language == "zh-hans"
            else "Pay at example.com/pay",
            "how_to_dispute": "致电 021-55550100 或书面寄至办公地址"
            if language == "zh-hans"
            else "Write to us at the address above",
        }
    )
    return context

"""The documented variables of a notice (``sandbox.VARIABLES``) from a case, as plain
values.

``notice_context`` computes one case's figures as of a day by the engine's own SQL
(``loan_figures_as_of``), with the Regulation F itemization: what was owed on the
itemization date (the case's opening day), interest charged and payments made since, and
what is owed now (the parts add up: owed + interest + fees − payments = now).
``bulk_contexts`` gives many cases' contexts from their stored figures (as of the
nightly run), for campaigns of SMS and e-mail; it reads a few queries per chunk.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db.models import Sum

from cuishou.cases.models import Case
from cuishou.engine.selectors import loan_figures_as_of
from cuishou.notices.choices import Audience
from cuishou.notices.models import ClientNoticeProfile
from cuishou.portfolio.choices import LoanStatus
from cuishou.portfolio.models import Address, Loan

ZERO = Decimal("0.00")


def office_of(client: Any) -> dict[str, Any]:
    """The office block and the how-to texts of a client (its ``ClientNoticeProfile``, or
    the settings' defaults)."""
    profile = ClientNoticeProfile.objects.filter(client_id=client.pk).first()
    return _office(profile)


def _office(profile: ClientNoticeProfile | None) -> dict[str, Any]:
    default = settings.CUISHOU_NOTICE_OFFICE
    if profile is None:
        return dict(default)
    return {
        "name": profile.office_name,
        "address": profile.office_address,
        "phone": profile.office_phone,
        "email": profile.office_email,
        "hours": profile.office_hours,
        "how_to_pay": profile.how_to_pay or default["how_to_pay"],
        "how_to_dispute": profile.how_to_dispute or default["how_to_dispute"],
        "deadline_days": profile.deadline_days,
        "dispute_days": profile.dispute_days,
    }


def _address_of(addresses: Iterable[Address]) -> str:
    order = {"mailing": 0, "residence": 1}
    valid = sorted((a for a in addresses if a.is_valid), key=lambda a: (order.get(a.kind, 2), a.pk))
    return valid[0].text if valid else ""


def _common(
    *,
    office: dict[str, Any],
    number: str,
    today: dt.date,
    recipient: str,
    collector: str,
    signer: str,
    visitors: Sequence[str],
) -> dict[str, Any]:
    return {
        "today": today,
        "document": {"number": number},
        "recipient": {"name": recipient},
        "collector": {"name": collector},
        "signer": {"name": signer},
        "office": {k: office.get(k, "") for k in ("name", "address", "phone", "email", "hours")},
        "visitors": list(visitors),
    }


def _person_name(user: Any) -> str:
    return str(user) if user is not None and getattr(user, "pk", None) else ""


def notice_context(
    *,
    case: Case,
    audience: str,
    number: str,
    as_of: dt.date,
    today: dt.date,
    recipient: str = "",
    collector: Any = None,
    signer: Any = None,
    visitors: Sequence[str] = (),
) -> tuple[dict[str, Any], dict[str, Any]]:
    """(the template context, the figures to keep with the document) for one case."""
    office = office_of(case.client)
    debtor = case.debtor
    context = _common(
        office=office,
        number=number,
        today=today,
        recipient=recipient or debtor.name,
        collector=_person_name(collector or case.assignee),
        signer=_person_name(signer),
        visitors=visitors,
    )
    if audience == Audience.THIRD_PARTY:
        return context, {}
    loans = list(
        Loan.objects.filter(client_id=case.client_id, debtor_id=case.debtor_id)
        .exclude(status=LoanStatus.PAID_OFF)
        .select_related("product")
        .order_by("disbursed_on", "pk")
    )
    item_date = min(case.opened_on, as_of)
    contracts, now_total, then_total = [], ZERO, ZERO
    sums = dict.fromkeys(
        ("overdue_principal", "overdue_interest", "penalty", "outstanding_principal"), ZERO
    )
    for loan in loans:
        now = loan_figures_as_of(loan_id=loan.pk, as_of=as_of)
        then = loan_figures_as_of(loan_id=loan.pk, as_of=item_date)
        now_total += now.balance
        then_total += then.balance
        for key in sums:
            sums[key] += getattr(now, key)
        contracts.append(
            {
                "number": loan.contract_no,
                "product": loan.product.name,
                "principal": loan.principal,
                "disbursed_on": loan.disbursed_on,
                "currency": loan.currency,
                "overdue_principal": now.overdue_principal,
                "overdue_interest": now.overdue_interest,
                "penalty": now.penalty,
                "balance": now.balance,
            }
        )
    from cuishou.payments.models import Payment  # payments imports the cases app

    paid = (
        Payment.objects.filter(
            loan__in=loans, status="posted", value_date__gt=item_date, value_date__lte=as_of
        ).aggregate(s=Sum("amount"))["s"]
        or ZERO
    )
    # Interest (contractual and penalty) is what makes the parts add up; a waiver or a
    # credit shows as a payment.
    interest = now_total - then_total + paid
    if interest < 0:
        paid, interest = paid - interest, ZERO
    balance = {
        "as_of": as_of,
        "currency": contracts[0]["currency"] if contracts else "CNY",
        **sums,
        "overdue": sums["overdue_principal"] + sums["overdue_interest"] + sums["penalty"],
        "total": now_total,
    }
    itemization = {
        "date": item_date,
        "owed": then_total,
        "interest": interest,
        "fees": ZERO,
        "payments": paid,
        "total": now_total,
    }
    context.update(
        {
            "debtor": {"name": debtor.name, "address": _address_of(debtor.addresses.all())},
            "creditor": {"name": case.client.name},
            "contract": contracts[0] if contracts else {},
            "contracts": contracts,
            "balance": balance,
            "itemization": itemization,
            "deadline": today + dt.timedelta(days=int(office["deadline_days"])),
            "dispute_by": today + dt.timedelta(days=int(office["dispute_days"])),
            "how_to_pay": office["how_to_pay"],
            "how_to_dispute": office["how_to_dispute"],
        }
    )
    return context, {"balance": balance, "itemization": itemization, "contracts": contracts}


def bulk_contexts(
    cases: Sequence[Case], *, audience: str, numbers: dict[int, str], today: dt.date
) -> dict[int, dict[str, Any]]:
    """case id → its context from the stored figures (``Case.balance`` and the loans'
    stored columns, as of the nightly run), for many cases at once. ``cases`` come with
    their client, debtor and assignee; the loans, addresses and profiles are read once."""
    profiles = {
        p.client_id: p
        for p in ClientNoticeProfile.objects.filter(client_id__in={c.client_id for c in cases})
    }
    keys = {(c.client_id, c.debtor_id) for c in cases}
    first_loan: dict[tuple[int, int], dict[str, Any]] = {}
    sums: dict[tuple[int, int], dict[str, Decimal]] = {}
    if audience == Audience.DEBTOR:
        rows = (
            Loan.objects.filter(
                client_id__in={k[0] for k in keys}, debtor_id__in={k[1] for k in keys}
            )
            .exclude(status=LoanStatus.PAID_OFF)
            .order_by("disbursed_on", "pk")
            .values_list(
                "client_id",
                "debtor_id",
                "contract_no",
                "product__name",
                "principal",
                "disbursed_on",
                "currency",
                "overdue_principal",
                "overdue_interest",
                "penalty",
            )
        )
        for cl, de, no, product, principal, disbursed, currency, op, oi, pen in rows:
            key = (cl, de)
            if key not in keys:
                continue
            first_loan.setdefault(
                key,
                {
                    "number": no,
                    "product": product,
                    "principal": principal,
                    "disbursed_on": disbursed,
                    "currency": currency,
                },
            )
            s = sums.setdefault(key, dict.fromkeys(("op", "oi", "pen"), ZERO))
            s["op"] += op
            s["oi"] += oi
            s["pen"] += pen
    out: dict[int, dict[str, Any]] = {}
    offices: dict[int, dict[str, Any]] = {}
    for case in cases:
        office = offices.get(case.client_id)
        if office is None:
            office = offices[case.client_id] = _office(profiles.get(case.client_id))
        context = _common(
            office=office,
            number=numbers[case.pk],
            today=today,
            recipient=case.debtor.name,
            collector=_person_name(case.assignee),
            signer="",
            visitors=(),
        )
        if audience == Audience.DEBTOR:
            key = (case.client_id, case.debtor_id)
            s = sums.get(key, dict.fromkeys(("op", "oi", "pen"), ZERO))
            contract = first_loan.get(key, {})
            context.update(
                {
                    "debtor": {"name": case.debtor.name, "address": ""},
                    "creditor": {"name": case.client.name},
                    "contract": contract,
                    "contracts": [contract] if contract else [],
                    "balance": {
                        "as_of": case.computed_as_of or today,
                        "currency": contract.get("currency", "CNY"),
                        "overdue_principal": s["op"],
                        "overdue_interest": s["oi"],
                        "penalty": s["pen"],
                        "overdue": case.overdue_amount,
                        "outstanding_principal": case.balance - s["oi"] - s["pen"],
                        "total": case.balance,
                    },
                    "itemization": {},
                    "deadline": today + dt.timedelta(days=int(office["deadline_days"])),
                    "dispute_by": today + dt.timedelta(days=int(office["dispute_days"])),
                    "how_to_pay": office["how_to_pay"],
                    "how_to_dispute": office["how_to_dispute"],
                }
            )
        out[case.pk] = context
    return out

"""factory_boy factories shared by the test suite."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import factory
from django.contrib.auth.models import Group

from cuishou.accounts.models import Team, User
from cuishou.cases.models import Case
from cuishou.portfolio.models import (
    Address,
    Client,
    ContactPoint,
    Debtor,
    Installment,
    Loan,
    Product,
    RelatedPerson,
)

# Valid GB 11643 resident ID numbers (check digits computed), for tests that need several.
VALID_ID_NUMBERS = [
    "110105198604011114",
    "310104199106062221",
    "440106198408083332",
    "330102198909094442",
    "320106199402105550",
]


def make_id_number(n: int) -> str:
    """A valid 18-character ID number, distinct for each n (birth date varies)."""
    base = dt.date(1970, 1, 1) + dt.timedelta(days=n % 15000)
    body = f"110105{base:%Y%m%d}{(n // 15000) % 1000:03d}"
    weights = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
    total = sum(int(c) * w for c, w in zip(body, weights, strict=True))
    check = "10X98765432"[total % 11]
    return body + check


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("username",)
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    display_name = factory.LazyAttribute(lambda o: o.username)
    password = factory.django.Password("pw-Secret-123")

    @factory.post_generation
    def role(self, create: bool, extracted: str | None, **kwargs: object) -> None:
        if create and extracted:
            self.groups.add(Group.objects.get(name=extracted))


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class ClientFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Client
        django_get_or_create = ("code",)

    code = factory.Sequence(lambda n: f"C{n}")
    name = factory.LazyAttribute(lambda o: f"Client {o.code}")


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    client = factory.SubFactory(ClientFactory)
    name = factory.Sequence(lambda n: f"消费贷{n}")
    annual_rate = Decimal("0.18")
    penalty_annual_rate = Decimal("0.00")
    annual_cost_cap = Decimal("0.24")


class DebtorFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Debtor

    id_number = factory.Sequence(make_id_number)
    name = factory.Sequence(lambda n: f"债务人{n}")
    mobile = factory.Sequence(lambda n: f"138{n:08d}")


class LoanFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Loan

    client = factory.SubFactory(ClientFactory)
    debtor = factory.SubFactory(DebtorFactory)
    product = factory.SubFactory(ProductFactory, client=factory.SelfAttribute("..client"))
    contract_no = factory.Sequence(lambda n: f"HT-{n:06d}")
    principal = Decimal("6000.00")
    annual_rate = Decimal("0.18")
    disbursed_on = dt.date(2026, 5, 1)


class InstallmentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Installment

    loan = factory.SubFactory(LoanFactory)
    seq = factory.Sequence(lambda n: n + 1)
    due_on = dt.date(2026, 8, 10)
    principal_due = Decimal("1500.00")
    interest_due = Decimal("75.00")


class RelatedPersonFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = RelatedPerson

    debtor = factory.SubFactory(DebtorFactory)
    name = factory.Sequence(lambda n: f"关系人{n}")
    relation = "spouse"


class ContactPointFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = ContactPoint

    debtor = factory.SubFactory(DebtorFactory)
    kind = "phone"
    value = factory.Sequence(lambda n: f"139{n:08d}")


class AddressFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Address

    debtor = factory.SubFactory(DebtorFactory)
    kind = "residence"
    text = factory.Sequence(lambda n: f"上海市浦东新区张杨路{n}号")
    province = "上海市"
    city = "上海市"
    district = "浦东新区"


class CaseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Case

    client = factory.SubFactory(ClientFactory)
    debtor = factory.SubFactory(DebtorFactory)
    stage = "phone"
    status = "open"
    bucket = "M1"
    dpd = 10
    overdue_amount = Decimal("1575.00")
    balance = Decimal("6000.00")
    opened_on = dt.date(2026, 11, 1)

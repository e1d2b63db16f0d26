"""Templates: versioned, approved by a compliance officer before use, sandboxed, and
checked for prohibited language and (for third parties) the debt."""

from __future__ import annotations

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from cuishou.audit.models import AuditEvent
from cuishou.notices.choices import TemplateStatus
from cuishou.notices.defaults import DEFAULTS, defaults_load
from cuishou.notices.models import NoticeTemplate
from cuishou.notices.templates import (
    template_create,
    template_decide,
    template_require_sendable,
    template_revise,
)
from tests.notices.conftest import approved, default_spec


def _sms(
    author,
    body="【{{ office.name }}】{{ recipient.name }}您好，请致电{{ office.phone }}。回复TD退订",
    **kw,
):
    return template_create(
        actor=author,
        key=kw.pop("key", "sms-a"),
        kind="sms",
        language="zh-hans",
        name="SMS",
        body=body,
        **kw,
    )


def test_a_draft_cannot_be_sent_until_a_compliance_officer_approves_it(world):
    t = _sms(world.ren)
    assert t.status == TemplateStatus.DRAFT and t.version == 1
    with pytest.raises(ValidationError, match="not approved"):
        template_require_sendable(t)

    with pytest.raises(PermissionDenied, match="compliance officer"):
        template_decide(actor=world.chen, template=t, approve=True)
    with pytest.raises(PermissionDenied, match="compliance officer"):
        template_decide(actor=world.wang, template=t, approve=True)

    t = template_decide(actor=world.gu, template=t, approve=True, note="ok")
    assert t.status == TemplateStatus.APPROVED and t.decided_by == world.gu
    template_require_sendable(t)  # no error
    assert AuditEvent.objects.filter(action="notice_template.approve", object_id=str(t.pk)).exists()


def test_the_author_does_not_approve_their_own_version(world):
    t = template_create(
        actor=world.gu,
        key="own",
        kind="sms",
        language="en",
        name="x",
        body="Call {{ office.phone }}. Reply STOP to opt out.",
    )
    with pytest.raises(PermissionDenied, match="Somebody else"):
        template_decide(actor=world.gu, template=t, approve=True)
    assert template_decide(actor=world.he, template=t, approve=True).status == "approved"


def test_an_edit_is_a_new_version_and_nothing_of_the_key_goes_out_until_it_is_approved(world):
    v1 = template_decide(actor=world.gu, template=_sms(world.ren), approve=True)
    v2 = template_revise(
        actor=world.ren,
        template=v1,
        name="SMS",
        subject="",
        body="【{{ office.name }}】{{ recipient.name }}，请今天致电{{ office.phone }}。回复TD退订",
    )
    assert (v2.version, v2.status) == (2, TemplateStatus.DRAFT)
    v1.refresh_from_db()
    assert v1.status == TemplateStatus.APPROVED  # the old text is kept as it was
    with pytest.raises(ValidationError, match="newer version"):
        template_require_sendable(v1)
    with pytest.raises(ValidationError, match="not approved"):
        template_require_sendable(v2)

    template_decide(actor=world.gu, template=v2, approve=True)
    v1.refresh_from_db()
    assert v1.status == TemplateStatus.SUPERSEDED
    template_require_sendable(v2)


def test_a_template_changed_behind_the_approval_cannot_be_sent(world):
    t = template_decide(actor=world.gu, template=_sms(world.ren), approve=True)
    NoticeTemplate.objects.filter(pk=t.pk).update(body="改过的文字 {{ office.phone }} 回复TD退订")
    with pytest.raises(ValidationError, match="changed after it was approved"):
        template_require_sendable(t)


def test_approval_refuses_prohibited_language_and_names_it(world):
    t = _sms(world.ren, body="{{ recipient.name }}，再不还钱就让你全家不得安宁。回复TD退订")
    with pytest.raises(ValidationError) as exc:
        template_decide(actor=world.gu, template=t, approve=True)
    assert "全家不得安宁" in str(exc.value)
    t.refresh_from_db()
    assert t.status == TemplateStatus.DRAFT


def test_a_third_party_text_never_mentions_the_debt(world):
    with pytest.raises(ValidationError) as exc:
        _sms(
            world.ren,
            key="tp",
            audience="third_party",
            body="请转告{{ recipient.name }}欠款{{ balance.total }}",
        )
    assert "about the debt" in str(exc.value)
    t = _sms(
        world.ren,
        key="tp2",
        audience="third_party",
        body="请转告他尽快处理逾期欠款，电话{{ office.phone }}",
    )
    with pytest.raises(ValidationError, match="mentions the debt"):
        template_decide(actor=world.gu, template=t, approve=True)


def test_a_letter_of_introduction_is_always_for_third_parties(world):
    t = template_create(actor=world.ren, **default_spec("introduction-zh"))
    assert t.audience == "third_party"


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("{% load static %}{{ office.name }}", "does not compile"),
        ("{% debug %}", "does not compile"),
        ("{% include 'base.html' %}", "does not compile"),
        ("{{ request.user.password }}", "not a documented variable"),
        ("{{ settings.SECRET_KEY }}", "not a documented variable"),
        ("{% for x in objects %}{{ x }}{% endfor %}", "not a documented variable"),
    ],
)
def test_only_the_documented_variables_and_a_few_tags(world, body, why):
    with pytest.raises(ValidationError, match=why):
        _sms(world.ren, body=body)


def test_the_standard_templates_pass_the_approval_checks(world):
    made = defaults_load(actor=world.ren)
    assert len(made) == len(DEFAULTS)
    for t in made:
        assert template_decide(actor=world.gu, template=t, approve=True).status == "approved", t.key
    assert defaults_load(actor=world.ren) == []  # nothing twice


def test_only_roles_that_write_templates_may(world):
    with pytest.raises(PermissionDenied):
        _sms(world.chen)
    approved(
        world.wang,
        world.gu,
        key="x",
        kind="sms",
        language="en",
        name="x",
        body="Call {{ office.phone }}. Reply STOP to opt out.",
    )

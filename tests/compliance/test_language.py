"""The prohibited-language matcher on real-looking messages, and innocent ones that pass."""

from __future__ import annotations

import pytest

from cuishou.compliance.language import debt_disclosure, prohibited_language


@pytest.mark.parametrize(
    ("text", "category", "found"),
    [
        ("不还钱就让你全家不得安宁", "threat", "全家不得安宁"),
        ("再不还款，我们就去你公司，告诉你领导你是老赖", "shaming", "告诉你领导"),
        ("三天内不还，公安已经立案，马上逮捕你", "false_legal", "公安已经立案"),
        ("信不信我弄 死 你", "threat", "弄 死 你"),
        ("你这个老賴", "insult", "老賴"),  # traditional 賴
        ("我們會爆通訊錄", "shaming", "爆通訊錄"),
        ("ｆｕｃｋ you", "obscenity", "ｆｕｃｋ"),  # full-width letters
        ("Pay today or you will be arrested.", "false_legal", "you will be arrested"),
        ("We will tell your employer about this.", "shaming", "tell your employer"),
        ("Pay up, you DEADBEAT", "insult", "DEADBEAT"),
        ("我们会在你小区拉横幅", "shaming", "拉横幅"),
    ],
)
def test_prohibited_messages_are_caught_with_their_span(
    text: str, category: str, found: str
) -> None:
    hits = prohibited_language(text)
    assert any(h.category == category and h.found_in(text) == found for h in hits), hits


@pytest.mark.parametrize(
    "text",
    [
        "您好，您的借款已逾期，请及时还款。",
        "【某银行】尊敬的客户，您尾号1234的账户本期应还1,575.00元，如已还款请忽略。",
        "如对欠款有异议，请致电 400-000-0000，我们将核实处理。",
        "请谨防诈骗，认准官方还款渠道。",
        "Your payment of $120.00 is past due. Call us at 800-555-0100 to discuss options.",
        "We are getting closer to a plan that works for you.",
        "Reply STOP to opt out of text messages.",
        "",
    ],
)
def test_innocent_messages_pass(text: str) -> None:
    assert prohibited_language(text) == []


def test_disclosure_words_are_found_for_third_party_texts() -> None:
    assert [h.term for h in debt_disclosure("请转告他尽快还款")] == ["还款"]
    assert debt_disclosure("请让他给我们回电话") == []
    assert [h.term for h in debt_disclosure("He OWES us money")] == ["owes"]

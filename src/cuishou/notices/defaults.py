# ruff: noqa: E501  (the templates are text: a line is a paragraph)
"""The standard templates, in Chinese and English, loaded as drafts for a compliance
officer to review and approve (``cuishou notices defaults``, and the demo).

The US debt validation notice follows Regulation F's model form (12 CFR 1006.34, form
B-1): who is collecting for whom, the itemization (owed on the itemization date, interest,
fees, payments and credits since, the total now), how and by when to dispute, and what
else the debtor may do.
"""

from __future__ import annotations

from typing import Any

from cuishou.notices.choices import Audience, TemplateKind

_HEAD_ZH = "{{ office.name }}　{{ office.address }}　电话 {{ office.phone }}"
_HEAD_EN = "{{ office.name }}, {{ office.address }}, phone {{ office.phone }}"

DEFAULTS: list[dict[str, Any]] = [
    {
        "key": "collection-notice-zh",
        "kind": TemplateKind.COLLECTION_NOTICE,
        "language": "zh-hans",
        "name": "催款通知书（标准）",
        "subject": "催款通知书",
        "body": """{{ debtor.name }}：

您与{{ creditor.name }}签订的借款合同（合同编号 {{ contract.number }}，借款本金 {{ contract.principal|money }} 元，放款日期 {{ contract.disbursed_on|date:"Y年n月j日" }}）已逾期。截至{{ balance.as_of|date:"Y年n月j日" }}，您的欠款明细如下：

逾期本金：{{ balance.overdue_principal|money }} 元
逾期利息：{{ balance.overdue_interest|money }} 元
罚息：{{ balance.penalty|money }} 元
逾期合计：{{ balance.overdue|money }} 元
剩余欠款总额：{{ balance.total|money }} 元

请您于{{ deadline|date:"Y年n月j日" }}前归还逾期款项。还款方式：{{ how_to_pay }}
如您对欠款有异议，请于{{ dispute_by|date:"Y年n月j日" }}前提出：{{ how_to_dispute }}
逾期未还将继续产生罚息，并可能影响您的信用记录；我方将依法维护债权人的合法权益。

联系人：{{ collector.name }}　{{ office.name }}
地址：{{ office.address }}　电话：{{ office.phone }}　工作时间：{{ office.hours }}
{{ today|date:"Y年n月j日" }}""",
    },
    {
        "key": "collection-notice-en",
        "kind": TemplateKind.COLLECTION_NOTICE,
        "language": "en",
        "name": "Collection notice (standard)",
        "subject": "Collection notice",
        "body": """Dear {{ debtor.name }},

Your loan agreement with {{ creditor.name }} (contract {{ contract.number }}, principal {{ contract.principal|money }}, paid out on {{ contract.disbursed_on|date:"Y-m-d" }}) is past due. As of {{ balance.as_of|date:"Y-m-d" }} you owe:

Overdue principal: {{ balance.overdue_principal|money }} {{ balance.currency }}
Overdue interest: {{ balance.overdue_interest|money }} {{ balance.currency }}
Penalty interest: {{ balance.penalty|money }} {{ balance.currency }}
Overdue in total: {{ balance.overdue|money }} {{ balance.currency }}
Whole balance: {{ balance.total|money }} {{ balance.currency }}

Please pay the overdue amount by {{ deadline|date:"Y-m-d" }}. How to pay: {{ how_to_pay }}
If you think this is wrong, tell us by {{ dispute_by|date:"Y-m-d" }}: {{ how_to_dispute }}
Penalty interest keeps accruing on overdue amounts.

Your contact: {{ collector.name }}, {{ office.name }}
{{ office.address }}, phone {{ office.phone }}, hours {{ office.hours }}
{{ today|date:"Y-m-d" }}""",
    },
    {
        "key": "legal-notice-zh",
        "kind": TemplateKind.LEGAL_NOTICE,
        "language": "zh-hans",
        "name": "法律告知书（标准）",
        "subject": "法律告知书",
        "body": """{{ debtor.name }}：

根据《中华人民共和国民法典》第六百七十四条、第六百七十五条，借款人应当按照约定的期限支付利息、返还借款。您在{{ creditor.name }}的借款（合同编号 {{ contract.number }}）截至{{ balance.as_of|date:"Y年n月j日" }}尚欠 {{ balance.total|money }} 元，其中逾期 {{ balance.overdue|money }} 元。

特此告知：请于{{ deadline|date:"Y年n月j日" }}前履行还款义务（{{ how_to_pay }}）。您有权对欠款提出异议（{{ how_to_dispute }}）；异议处理期间我方暂停催收。债权人保留依法通过诉讼等途径主张权利的权利。

{{ office.name }}　联系人 {{ collector.name }}　电话 {{ office.phone }}
{{ today|date:"Y年n月j日" }}""",
    },
    {
        "key": "legal-notice-en",
        "kind": TemplateKind.LEGAL_NOTICE,
        "language": "en",
        "name": "Legal notice (standard)",
        "subject": "Legal notice",
        "body": """Dear {{ debtor.name }},

Under your loan agreement with {{ creditor.name }} (contract {{ contract.number }}) you agreed to repay the loan and its interest when due. As of {{ balance.as_of|date:"Y-m-d" }} you owe {{ balance.total|money }} {{ balance.currency }}, of which {{ balance.overdue|money }} is overdue.

Please pay by {{ deadline|date:"Y-m-d" }} ({{ how_to_pay }}). You have the right to dispute the debt ({{ how_to_dispute }}); while a dispute is open we stop collecting. The creditor keeps the right to pursue the remedies the law provides.

{{ office.name }}, contact {{ collector.name }}, phone {{ office.phone }}
{{ today|date:"Y-m-d" }}""",
    },
    {
        "key": "lawyer-letter-zh",
        "kind": TemplateKind.LAWYER_LETTER,
        "language": "zh-hans",
        "name": "律师函（标准）",
        "subject": "律师函",
        "body": """{{ debtor.name }}：

本函由{{ office.name }}法务部门受{{ creditor.name }}委托发出。经核查，您于{{ contract.disbursed_on|date:"Y年n月j日" }}签订借款合同（合同编号 {{ contract.number }}），截至{{ balance.as_of|date:"Y年n月j日" }}尚欠本金、利息及罚息合计 {{ balance.total|money }} 元（逾期 {{ balance.overdue|money }} 元）。

请您于{{ deadline|date:"Y年n月j日" }}前与我方联系并清偿欠款（{{ how_to_pay }}）。如您对欠款有异议，请书面提出（{{ how_to_dispute }}）。逾期未处理的，委托人将依法提起诉讼，届时诉讼费用由败诉方依法承担。

法务：{{ signer.name }}（签字）
{{ office.name }}　{{ office.address }}　电话 {{ office.phone }}
{{ today|date:"Y年n月j日" }}""",
    },
    {
        "key": "lawyer-letter-en",
        "kind": TemplateKind.LAWYER_LETTER,
        "language": "en",
        "name": "Lawyer's letter (standard)",
        "subject": "Lawyer's letter",
        "body": """Dear {{ debtor.name }},

This letter is sent by the legal department of {{ office.name }} on behalf of {{ creditor.name }}. Under your loan agreement of {{ contract.disbursed_on|date:"Y-m-d" }} (contract {{ contract.number }}) you owe, as of {{ balance.as_of|date:"Y-m-d" }}, principal, interest and penalty of {{ balance.total|money }} {{ balance.currency }} ({{ balance.overdue|money }} overdue).

Please contact us and pay by {{ deadline|date:"Y-m-d" }} ({{ how_to_pay }}). If you dispute the debt, write to us ({{ how_to_dispute }}). If the matter is not resolved, our client may bring a claim in court; court fees are borne by the losing party as the law provides.

Legal officer: {{ signer.name }} (signed)
{{ office.name }}, {{ office.address }}, phone {{ office.phone }}
{{ today|date:"Y-m-d" }}""",
    },
    {
        "key": "introduction-zh",
        "kind": TemplateKind.INTRODUCTION,
        "audience": Audience.THIRD_PARTY,
        "language": "zh-hans",
        "name": "介绍信（外访）",
        "subject": "介绍信",
        "body": """兹介绍我单位工作人员{{ visitors|join:"、" }}前往贵处办理业务，请予接洽为盼。

如需核实上述人员身份，请致电{{ office.name }}：{{ office.phone }}（{{ office.hours }}）。

{{ office.name }}
{{ office.address }}
{{ today|date:"Y年n月j日" }}""",
    },
    {
        "key": "introduction-en",
        "kind": TemplateKind.INTRODUCTION,
        "audience": Audience.THIRD_PARTY,
        "language": "en",
        "name": "Letter of introduction (field visit)",
        "subject": "Letter of introduction",
        "body": """This is to introduce {{ visitors|join:" and " }} of {{ office.name }}, who are visiting on our business. We would be grateful for your help.

To confirm who they are, please call {{ office.name }} on {{ office.phone }} ({{ office.hours }}).

{{ office.name }}
{{ office.address }}
{{ today|date:"Y-m-d" }}""",
    },
    {
        "key": "validation-notice-en",
        "kind": TemplateKind.VALIDATION_NOTICE,
        "language": "en",
        "name": "Debt validation notice (Regulation F model)",
        "subject": "Notice of debt",
        "body": """{{ office.name }} is a debt collector. We are trying to collect a debt that you owe to {{ creditor.name }}. We will use any information you give us to help collect the debt.

Our information shows:
You had a {{ contract.product }} from {{ creditor.name }} with account number {{ contract.number }}.

As of {{ itemization.date|date:"F j, Y" }}, you owed: {{ itemization.owed|money }}
Between {{ itemization.date|date:"F j, Y" }} and today:
You were charged this amount in interest: + {{ itemization.interest|money }}
You were charged this amount in fees: + {{ itemization.fees|money }}
You paid or were credited this amount toward the debt: - {{ itemization.payments|money }}
Total amount of the debt now: {{ itemization.total|money }}

How can you dispute the debt?
Call or write to us by {{ dispute_by|date:"F j, Y" }}, to dispute all or part of the debt. If you do not, we will assume that our information is correct.
If you write to us by {{ dispute_by|date:"F j, Y" }}, we must stop collection on any amount you dispute until we send you information that shows you owe the debt. You may use the form below or write to us without the form. You may also include supporting documents. {{ how_to_dispute }}

What else can you do?
Write to ask for the name and address of the original creditor, if different from the current creditor. If you write by {{ dispute_by|date:"F j, Y" }}, we must stop collection until we send you that information.
Go to www.cfpb.gov/debt-collection to learn more about your rights under federal law.
Contact us about your payment options: {{ how_to_pay }}
Póngase en contacto con nosotros para solicitar una copia de este formulario en español.

{{ office.name }}, {{ office.address }}, {{ office.phone }}, {{ office.hours }}. Reference {{ document.number }}.

How do you want to respond? Mail this form to {{ office.address }}.
[ ] I want to dispute the debt because I think: [ ] This is not my debt. [ ] The amount is wrong. [ ] Other.
[ ] I want you to send me the name and address of the original creditor.
[ ] I enclosed this amount: ________""",
    },
    {
        "key": "validation-notice-zh",
        "kind": TemplateKind.VALIDATION_NOTICE,
        "language": "zh-hans",
        "name": "债务确认通知（美国 Regulation F 范本）",
        "subject": "债务通知",
        "body": """{{ office.name }}是一家债务催收机构。我们正在催收您欠{{ creditor.name }}的一笔债务。您提供给我们的任何信息都将用于催收该债务。

我们的记录显示：
您曾在{{ creditor.name }}办理{{ contract.product }}，账号 {{ contract.number }}。

截至{{ itemization.date|date:"Y年n月j日" }}，您欠款：{{ itemization.owed|money }}
自{{ itemization.date|date:"Y年n月j日" }}至今：
产生利息：+ {{ itemization.interest|money }}
产生费用：+ {{ itemization.fees|money }}
您已还款或获减免：- {{ itemization.payments|money }}
目前债务总额：{{ itemization.total|money }}

如何提出异议？
请于{{ dispute_by|date:"Y年n月j日" }}前致电或写信给我们，对全部或部分债务提出异议。否则我们将认为我们的信息正确。
如您于{{ dispute_by|date:"Y年n月j日" }}前书面提出异议，在我们向您寄送证明您欠款的信息之前，我们将停止催收有异议的金额。{{ how_to_dispute }}

您还可以：
书面要求我们提供原债权人的名称和地址（如与现债权人不同）。如您于{{ dispute_by|date:"Y年n月j日" }}前提出，我们将在寄出该信息前停止催收。
访问 www.cfpb.gov/debt-collection 了解联邦法律赋予您的权利。
联系我们了解还款方式：{{ how_to_pay }}

{{ office.name }}　{{ office.address }}　{{ office.phone }}　{{ office.hours }}　编号 {{ document.number }}""",
    },
    {
        "key": "sms-reminder-zh",
        "kind": TemplateKind.SMS,
        "language": "zh-hans",
        "name": "短信提醒（标准）",
        "subject": "",
        "body": '【{{ office.name }}】{{ recipient.name }}您好，您在{{ creditor.name }}的借款（合同{{ contract.number }}）截至{{ balance.as_of|date:"n月j日" }}逾期{{ balance.overdue|money }}元，请于{{ deadline|date:"n月j日" }}前还款：{{ how_to_pay }}。如有疑问请致电{{ office.phone }}。回复TD退订',
    },
    {
        "key": "sms-reminder-en",
        "kind": TemplateKind.SMS,
        "language": "en",
        "name": "SMS reminder (standard)",
        "subject": "",
        "body": '{{ office.name }}: {{ recipient.name }}, your {{ creditor.name }} loan {{ contract.number }} has {{ balance.overdue|money }} {{ balance.currency }} overdue as of {{ balance.as_of|date:"M j" }}. Please pay by {{ deadline|date:"M j" }}: {{ how_to_pay }}. Questions: {{ office.phone }}. Reply STOP to opt out.',
    },
    {
        "key": "sms-callback-zh",
        "kind": TemplateKind.SMS,
        "audience": Audience.THIRD_PARTY,
        "language": "zh-hans",
        "name": "短信：请回电（第三方）",
        "subject": "",
        "body": "【{{ office.name }}】{{ recipient.name }}您好，我是{{ collector.name }}，有事需与您联系，请致电{{ office.phone }}（{{ office.hours }}）。回复TD退订",
    },
    {
        "key": "email-reminder-zh",
        "kind": TemplateKind.EMAIL,
        "language": "zh-hans",
        "name": "邮件提醒（标准）",
        "subject": "【{{ office.name }}】还款提醒：合同{{ contract.number }}",
        "body": """{{ recipient.name }}您好：

您在{{ creditor.name }}的借款（合同编号 {{ contract.number }}）截至{{ balance.as_of|date:"Y年n月j日" }}逾期 {{ balance.overdue|money }} 元，剩余欠款 {{ balance.total|money }} 元。请于{{ deadline|date:"Y年n月j日" }}前还款。

还款方式：{{ how_to_pay }}
如有异议：{{ how_to_dispute }}

{{ collector.name }}　{{ office.name }}　电话 {{ office.phone }}
如不希望再收到邮件，请回复“退订”。""",
    },
    {
        "key": "email-reminder-en",
        "kind": TemplateKind.EMAIL,
        "language": "en",
        "name": "E-mail reminder (standard)",
        "subject": "{{ office.name }}: payment reminder, contract {{ contract.number }}",
        "body": """Dear {{ recipient.name }},

Your {{ creditor.name }} loan (contract {{ contract.number }}) has {{ balance.overdue|money }} {{ balance.currency }} overdue as of {{ balance.as_of|date:"Y-m-d" }}; the whole balance is {{ balance.total|money }}. Please pay by {{ deadline|date:"Y-m-d" }}.

How to pay: {{ how_to_pay }}
To dispute: {{ how_to_dispute }}

{{ collector.name }}, {{ office.name }}, phone {{ office.phone }}
To opt out of these e-mails, reply "unsubscribe".""",
    },
]


def defaults_load(*, actor: Any) -> list[Any]:
    """Create the standard templates that do not exist yet (as drafts)."""
    from cuishou.notices.models import NoticeTemplate
    from cuishou.notices.templates import template_create

    made = []
    for spec in DEFAULTS:
        if NoticeTemplate.objects.filter(key=spec["key"]).exists():
            continue
        made.append(template_create(actor=actor, **spec))
    return made

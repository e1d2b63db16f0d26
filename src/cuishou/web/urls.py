from django.urls import path

from cuishou.web import payments, reconcile, settlements, views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/reveal/", views.case_reveal, name="case-reveal"),
    path("cases/<int:pk>/contact/", views.case_contact, name="case-contact"),
    path("cases/<int:pk>/action/", views.case_action, name="case-action"),
    path(
        "cases/<int:pk>/disputes/<int:dispute_pk>/resolve/",
        views.dispute_resolve_view,
        name="dispute-resolve",
    ),
    path("queue/", views.queue, name="queue"),
    path("allocation/", views.allocation, name="allocation"),
    path("compliance/", views.compliance, name="compliance"),
    path("compliance/overrides/", views.override_list, name="override-list"),
    path("compliance/overrides/new/", views.override_new, name="override-new"),
    path(
        "compliance/overrides/<int:pk>/decide/",
        views.override_decide_view,
        name="override-decide",
    ),
    path("cases/<int:pk>/reassign/", views.case_reassign_view, name="case-reassign"),
    path("imports/", views.import_list, name="import-list"),
    path("imports/upload/", views.import_upload, name="import-upload"),
    path("imports/<int:pk>/", views.import_detail, name="import-detail"),
    path("imports/<int:pk>/report.txt", views.import_report, name="import-report"),
    path("payments/", payments.payments, name="payments"),
    path(
        "payments/<int:pk>/reverse/",
        payments.payment_reversal_request,
        name="payment-reversal-request",
    ),
    path(
        "payments/reversals/<int:pk>/",
        payments.payment_reversal_decide,
        name="payment-reversal-decide",
    ),
    path("cases/<int:pk>/plan/", settlements.plan_new, name="plan-new"),
    path(
        "cases/<int:pk>/plan/<int:plan_pk>/cancel/",
        settlements.plan_cancel_view,
        name="plan-cancel",
    ),
    path("cases/<int:pk>/settlement/", settlements.settlement_new, name="settlement-new"),
    path("settlements/", settlements.settlement_list, name="settlement-list"),
    path(
        "settlements/<int:pk>/decide/",
        settlements.settlement_decide_view,
        name="settlement-decide",
    ),
    path("payments/<int:pk>/receipt/", settlements.receipt_new, name="receipt-new"),
    path("receipts/<int:pk>/", settlements.receipt_download, name="receipt-download"),
]
urlpatterns += [
    path("payments/statements/", reconcile.statement_upload, name="statement-upload"),
    path("payments/statements/<int:pk>/", reconcile.statement_detail, name="statement-detail"),
    path("payments/statements/queue/", reconcile.statement_queue_view, name="statement-queue"),
    path(
        "payments/statements/lines/<int:pk>/confirm/",
        reconcile.statement_line_confirm_view,
        name="statement-line-confirm",
    ),
    path(
        "payments/statements/lines/<int:pk>/split/",
        reconcile.statement_line_split_view,
        name="statement-line-split",
    ),
    path(
        "payments/statements/lines/<int:pk>/ignore/",
        reconcile.statement_line_ignore_view,
        name="statement-line-ignore",
    ),
]

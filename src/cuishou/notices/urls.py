from django.urls import path

from cuishou.notices import views

app_name = "notices"
urlpatterns = [
    path("verify/<str:number>/", views.verify, name="verify"),
    path("documents/<str:number>.pdf", views.document_pdf, name="document-pdf"),
    path("documents/<str:number>/send/", views.document_send_view, name="document-send"),
    path("documents/<str:number>/receipt/", views.receipt_upload_view, name="receipt-upload"),
    path("sends/<int:pk>/tracking/", views.tracking_record_view, name="tracking-record"),
    path("sends/<int:pk>/status/", views.send_status_view, name="send-status"),
    path("cases/<int:pk>/documents/", views.document_new, name="document-new"),
    path("templates/", views.template_list_page, name="template-list"),
    path("templates/<int:pk>/", views.template_detail, name="template-detail"),
    path("templates/<int:pk>/edit/", views.template_edit, name="template-edit"),
    path("templates/<int:pk>/decide/", views.template_decide_view, name="template-decide"),
    path("sms/delivery-report/", views.sms_delivery_report_view, name="sms-delivery-report"),
    path("print/", views.print_batch_page, name="print-batches"),
    path("print/<str:number>.<str:what>", views.print_batch_file, name="print-batch-file"),
    path("print/<str:number>/tracking/", views.print_batch_tracking, name="print-batch-tracking"),
    path("campaigns/", views.campaign_list_page, name="campaign-list"),
    path("campaigns/new/", views.campaign_new, name="campaign-new"),
    path("campaigns/<int:pk>/", views.campaign_detail, name="campaign-detail"),
]

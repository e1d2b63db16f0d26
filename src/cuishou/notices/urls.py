from django.urls import path

from cuishou.notices import views

app_name = "notices"
urlpatterns = [
    path("verify/<str:number>/", views.verify, name="verify"),
    path("documents/<str:number>.pdf", views.document_pdf, name="document-pdf"),
]

"""Field-visit pages: the desk (team lead, risk manager) and the street (visitors' phones)."""

from django.urls import include, path

app_name = "visits"
urlpatterns = [
    path("", include("cuishou.visits.urls_desk")),
    path("field/", include("cuishou.visits.urls_field")),
    path("evidence/", include("cuishou.visits.urls_evidence")),
]

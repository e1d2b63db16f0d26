"""Evidence files, served to the users who may see the case."""

from django.urls import URLPattern, URLResolver, path

from cuishou.visits import views_evidence

urlpatterns: list[URLPattern | URLResolver] = [
    path("<int:pk>/file", views_evidence.evidence_file, name="evidence_file"),
]

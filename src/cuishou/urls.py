from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path

from cuishou.api.api import api

urlpatterns: list[URLPattern | URLResolver] = [
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/", api.urls),
    path("accounts/", include("cuishou.accounts.urls")),
    path("notices/", include("cuishou.notices.urls")),
    path("visits/", include("cuishou.visits.urls")),
    path("", include("cuishou.web.urls")),
]
# MEDIA_ROOT is never served as it is, not even in DEBUG: it holds the visits' evidence,
# which only ``visits:evidence_file`` serves, to those who may see the case.

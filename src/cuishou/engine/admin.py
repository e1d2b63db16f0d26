"""The nightly run in the admin, read-only: the run records, and the daily case snapshots
one day at a time (the engine writes both; nobody edits them by hand).

``CaseSnapshot`` has a composite primary key, which the admin cannot register, so its list
is a page of the batch-run admin: ``admin/engine/batchrun/snapshots/?as_of=YYYY-MM-DD``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from cuishou.engine.models import BatchRun
from cuishou.engine.selectors import snapshot_days, snapshots_for_day
from cuishou.portfolio.choices import Bucket
from cuishou.portfolio.models import Client

SNAPSHOTS_PER_PAGE = 100


@admin.register(BatchRun)
class BatchRunAdmin(admin.ModelAdmin):
    list_display = [
        "id",
        "as_of",
        "date_from",
        "client",
        "status",
        "shards",
        "started_at",
        "finished_at",
        "host",
        "pid",
        "snapshots_link",
    ]
    list_filter = ["status", "client"]
    date_hierarchy = "as_of"
    search_fields = ["=id", "host", "actor_label", "errors"]
    list_select_related = ["client"]
    readonly_fields = [*(f.name for f in BatchRun._meta.fields), "snapshots_link"]
    actions = None

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    @admin.display(description=_("snapshots"))
    def snapshots_link(self, obj: BatchRun) -> str:
        url = reverse("admin:engine_batchrun_snapshots")
        return format_html('<a href="{}?as_of={}">{}</a>', url, obj.as_of, obj.as_of)

    def get_urls(self) -> list[URLPattern]:
        own = [
            path(
                "snapshots/",
                self.admin_site.admin_view(self.snapshots_view),
                name="engine_batchrun_snapshots",
            )
        ]
        return [*own, *super().get_urls()]

    def snapshots_view(self, request: HttpRequest) -> HttpResponse:
        """The snapshot rows of one day (default: the latest succeeded run's), filtered by
        client and bucket, 100 a page."""
        if not request.user.has_perm("engine.view_casesnapshot"):
            raise PermissionDenied
        days = snapshot_days()
        day: dt.date | None = days[0] if days else None
        error = ""
        if request.GET.get("as_of"):
            try:
                day = dt.date.fromisoformat(request.GET["as_of"])
            except ValueError:
                error = _("%(value)s is not a date (YYYY-MM-DD)") % {"value": request.GET["as_of"]}
        client_id = request.GET.get("client", "")
        bucket = request.GET.get("bucket", "")
        rows, per_bucket = snapshots_for_day(
            day=day,
            client_id=int(client_id) if client_id.isdigit() else None,
            bucket=bucket if bucket in Bucket.values else None,
        )
        page = Paginator(rows, SNAPSHOTS_PER_PAGE).get_page(request.GET.get("page"))
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Case snapshots"),
            "day": day,
            "days": days,
            "error": error,
            "page": page,
            "clients": Client.objects.order_by("code").values_list("id", "code"),
            "client_id": client_id,
            "buckets": [(b.value, per_bucket.get(b.value, 0)) for b in Bucket],
            "bucket": bucket,
        }
        return TemplateResponse(request, "admin/engine/casesnapshot_list.html", context)

"""The desk pages: issues, allocation, the plan of a day, approvals."""

from django.urls import URLPattern, URLResolver, path

from cuishou.visits import views_desk as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("issues/", v.issue_list, name="desk-issues"),
    path("issues/new/", v.issue_new, name="desk-issue-new"),
    path("issues/<int:pk>/", v.issue_detail, name="desk-issue"),
    path("issues/<int:pk>/confirm/", v.issue_confirm, name="desk-issue-confirm"),
    path("issues/<int:pk>/allocate/", v.issue_allocate, name="desk-issue-allocate"),
    path("plan/", v.plan_day, name="desk-plan"),
    path("plan/run/", v.plan_run, name="desk-plan-run"),
    path("routes/<int:pk>/submit/", v.route_submit_view, name="desk-route-submit"),
    path("routes/<int:pk>/stops/<int:stop>/move/", v.stop_move, name="desk-stop-move"),
    path("routes/<int:pk>/decide/", v.route_decide_view, name="desk-route-decide"),
    path("approvals/", v.approvals, name="desk-approvals"),
]

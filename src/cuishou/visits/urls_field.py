"""The visit day's pages under /visits/field/: the visitors' phone pages, and the desk
pages of the day (the equipment desk, the team lead's changes and reports)."""

from django.urls import URLPattern, URLResolver, path

from cuishou.visits import views_field as v

urlpatterns: list[URLPattern | URLResolver] = [
    path("", v.today, name="field-today"),
    path("route/<int:pk>/", v.route_page, name="field-route"),
    path("route/<int:pk>/depart/", v.depart, name="field-depart"),
    path("route/<int:pk>/return/", v.return_view, name="field-return"),
    path("route/<int:pk>/report/", v.report_page, name="field-report"),
    path("stop/<int:pk>/", v.stop_page, name="field-stop"),
    path("stop/<int:pk>/arrive/", v.arrive, name="field-arrive"),
    path("stop/<int:pk>/complete/", v.complete, name="field-complete"),
    path("stop/<int:pk>/upload/", v.upload, name="field-upload"),
    path("stop/<int:pk>/change/", v.change_request, name="field-change"),
    path("report/<int:pk>/pdf/", v.report_pdf, name="field-report-pdf"),
    path("desk/equipment/", v.equipment_desk, name="day-equipment"),
    path("desk/equipment/route/<int:pk>/out/", v.equipment_out_view, name="day-equipment-out"),
    path("desk/equipment/<int:pk>/back/", v.equipment_back_view, name="day-equipment-back"),
    path("desk/day/", v.lead_desk, name="day-lead"),
    path("desk/change/<int:pk>/decide/", v.change_decide, name="day-change-decide"),
    path("desk/report/<int:pk>/", v.lead_report, name="day-report"),
]

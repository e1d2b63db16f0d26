from django.urls import path

from cuishou.web import views

app_name = "web"
urlpatterns = [
    path("", views.home, name="home"),
    path("cases/", views.case_list, name="case-list"),
]

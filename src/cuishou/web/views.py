from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


@login_required
def home(request: HttpRequest) -> HttpResponse:
    return redirect("web:case-list")


@login_required
def case_list(request: HttpRequest) -> HttpResponse:
    return HttpResponse("placeholder")

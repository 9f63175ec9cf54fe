from django.contrib.auth.decorators import login_not_required
from django.core.paginator import Paginator
from django.db import connection
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, render
from django.views.decorators.http import require_GET

from registry.scoping import scope_to_user, visible_departments
from registry.models import Procedure
from registry.selectors import procedure_list


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    procedures = scope_to_user(Procedure.objects.all(), request.user)
    return render(
        request,
        "registry/home.html",
        {"departments": visible_departments(request.user), "procedure_count": procedures.count()},
    )


@login_not_required
@require_GET
def health(request: HttpRequest) -> JsonResponse:
    """Liveness and database readiness for load balancers and compose health checks."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return JsonResponse({"status": "ok"})


@require_GET
def case_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    page = Paginator(procedure_list(user=request.user, search=search), 25).get_page(request.GET.get("page"))
    return render(request, "registry/case_list.html", {"page": page, "q": search})


@require_GET
def case_detail(request: HttpRequest, pk: int) -> HttpResponse:
    procedure = get_object_or_404(
        scope_to_user(Procedure.objects.select_related("patient__department"), request.user), pk=pk
    )
    return render(
        request,
        "registry/case_detail.html",
        {
            "procedure": procedure,
            "fractures": procedure.fractures.all(),
            "follow_ups": procedure.follow_ups.prefetch_related("fractures"),
            "complications": procedure.complications.select_related("term").prefetch_related("fractures"),
        },
    )

"""The data freezes page: each freeze's citable line and files, freezing the
dashboard's selection, and the head's signature. Thin: one service per POST."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from complications import freezes
from complications.views import StatsFilterForm


@require_GET
def freeze_list(request: HttpRequest) -> HttpResponse:
    rows = [(freeze, freezes.citation(freeze)) for freeze in freezes.freezes_for(request.user)]
    return render(
        request,
        "complications/freezes.html",
        {
            "rows": rows,
            "may_freeze": freezes.may_freeze(request.user),
            "meaning": _(freezes.SIGNATURE_MEANING),
            "form": StatsFilterForm(request.GET, user=request.user),
        },
    )


@require_POST
def freeze_create(request: HttpRequest) -> HttpResponse:
    form = StatsFilterForm(request.POST, user=request.user)
    if not form.is_valid():
        messages.error(request, _("Check the filters."))
        return redirect(reverse("freezes"))
    try:
        freezes.freeze_create(
            user=request.user, name=request.POST.get("name", ""), filters=form.filters()
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Dataset frozen."))
    return redirect(reverse("freezes"))


@require_POST
def freeze_sign(request: HttpRequest, pk: int) -> HttpResponse:
    freeze = get_object_or_404(freezes.freezes_for(request.user), pk=pk)
    try:
        freezes.freeze_sign(
            freeze=freeze, user=request.user, password=request.POST.get("password", "")
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, _("Freeze signed."))
    return redirect(reverse("freezes"))

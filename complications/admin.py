"""Admin pages. Complications are written through the services, so an edit in
the admin is graded, windowed and validated exactly like one from the API."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin
from django.core.exceptions import ValidationError

from complications import services
from complications.models import ComplicationEvent, CtcaeTerm
from registry.admin import ScopedAdmin

EDITABLE = ["procedure", *services.UPDATABLE]


class ComplicationAdminForm(forms.ModelForm):
    class Meta:
        model = ComplicationEvent
        fields = EDITABLE

    def clean(self) -> dict[str, Any]:
        data = super().clean()
        if self.errors:
            return data
        probe = ComplicationEvent(**{name: data.get(name) for name in EDITABLE})
        probe.specify = probe.specify or ""
        probe.override_reason = probe.override_reason or ""
        try:
            services.complication_derive(probe)
        except ValidationError as exc:
            for field, messages in exc.message_dict.items():
                self.add_error(field if field in self.fields else None, messages)
        return data


@admin.register(CtcaeTerm)
class CtcaeTermAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "soc", "curated")
    list_filter = ("curated", "soc")
    search_fields = ("code", "name")


@admin.register(ComplicationEvent)
class ComplicationEventAdmin(ScopedAdmin):
    form = ComplicationAdminForm
    list_display = (
        "procedure",
        "term",
        "window",
        "grade",
        "auto_grade",
        "grade_override",
        "outcome",
    )
    list_filter = ("window", "grade", "outcome")
    search_fields = ("term__name", "procedure__patient__registry_id")
    readonly_fields = (
        "auto_grade",
        "grade",
        "grade_rationale",
        "window",
        "hours_after_end",
        "cirse_grade",
        "sir_class",
        "fracture_list",
    )
    autocomplete_fields = ("term",)
    list_select_related = ("procedure__patient", "term")

    @admin.display(description="fractures concerned")
    def fracture_list(self, obj: ComplicationEvent) -> str:
        return (
            ", ".join(str(f) for f in obj.fractures.all()) if obj.pk else "all of the procedure's"
        )

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        values = {name: form.cleaned_data.get(name) for name in EDITABLE if name != "procedure"}
        if change:
            saved = services.complication_update(
                event=ComplicationEvent.objects.get(pk=obj.pk),
                **{
                    k: v
                    for k, v in values.items()
                    if k in form.changed_data or k in services.ONSET_FIELDS
                },
            )
        else:
            saved = services.complication_record(
                procedure=form.cleaned_data["procedure"], actor=request.user, **values
            )
        obj.pk = saved.pk
        obj.refresh_from_db()

"""Admin pages. Complications are written through the services, so an edit in
the admin is graded, windowed and validated exactly like one from the API; as
every clinical record there, only superusers may write them (``registry.admin``)."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from complications import services
from complications.models import ComplicationEvent, CtcaeTerm
from registry.admin import ScopedAdmin


@admin.register(CtcaeTerm)
class CtcaeTermAdmin(admin.ModelAdmin):
    """Read-only: the catalogue changes through ``manage.py ctcae_import`` (``catalogue_sync``),
    which re-grades the complications of every changed term or refuses naming them."""

    list_display = ("code", "name", "soc", "curated")
    list_filter = ("curated", "soc")
    search_fields = ("code", "name")

    def has_add_permission(self, request) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False


@admin.register(ComplicationEvent)
class ComplicationEventAdmin(ScopedAdmin):
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
    fields = ("procedure", *services.UPDATABLE, "reason")
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
    fixed_on_change = ("procedure",)
    autocomplete_fields = ("term",)
    list_select_related = ("procedure__patient", "term")

    @admin.display(description=_("fractures concerned"))
    def fracture_list(self, obj: ComplicationEvent) -> str:
        return (
            ", ".join(str(f) for f in obj.fractures.all())
            if obj.pk
            else str(_("all of the procedure's"))
        )

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        values = {name: data.get(name) for name in services.UPDATABLE}
        if form.instance.pk is None:
            return services.complication_record(
                procedure=data["procedure"], actor=request.user, **values
            )
        # The onset is replaced as a whole: its three fields always go together.
        changed = {
            name: value
            for name, value in values.items()
            if name in form.changed_data or name in services.ONSET_FIELDS
        }
        return services.complication_update(
            event=self.current(form), reason=data["reason"], **changed
        )

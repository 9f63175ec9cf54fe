from django.contrib import admin
from simple_history.admin import SimpleHistoryAdmin

from registry.models import Department, Fracture, FollowUp, Patient, Procedure
from registry.scoping import scope_to_user


class ScopedAdmin(SimpleHistoryAdmin):
    """Admin pages show only the user's departments' records (superusers see all)."""

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return scope_to_user(super().get_queryset(request), request.user)


@admin.register(Department)
class DepartmentAdmin(ScopedAdmin):
    list_display = ("code", "name", "time_zone")
    search_fields = ("code", "name")
    filter_horizontal = ("members",)


class FractureInline(admin.TabularInline):
    model = Fracture
    extra = 0


@admin.register(Patient)
class PatientAdmin(ScopedAdmin):
    list_display = ("registry_id", "department", "sex", "birth_date")
    list_filter = ("department", "sex")
    search_fields = ("registry_id",)


@admin.register(Procedure)
class ProcedureAdmin(ScopedAdmin):
    list_display = ("patient", "started_at", "ended_at", "guidance", "anesthesia", "operator")
    list_filter = ("guidance", "anesthesia", "patient__department")
    search_fields = ("patient__registry_id", "operator")
    date_hierarchy = "started_at"
    inlines = [FractureInline]
    list_select_related = ("patient",)


@admin.register(Fracture)
class FractureAdmin(ScopedAdmin):
    list_display = ("procedure", "type", "site", "side", "aetiology", "screws", "cement_augmented")
    list_filter = ("type", "site", "aetiology")
    list_select_related = ("procedure__patient",)


@admin.register(FollowUp)
class FollowUpAdmin(ScopedAdmin):
    list_display = ("procedure", "contact_at", "kind")
    list_filter = ("kind",)
    filter_horizontal = ("fractures",)
    list_select_related = ("procedure__patient",)

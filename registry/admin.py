from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry import services
from registry.audit.selectors import audit_name
from registry.models import Department, FollowUp, Fracture, Patient, Procedure
from registry.scoping import scope_to_user


def _procedures_of(record) -> list[int]:  # type: ignore[no-untyped-def]
    """The procedures whose outcome summary a change to this record can move."""
    if isinstance(record, Procedure):
        return [record.pk]
    if isinstance(record, Patient):
        return list(record.procedures.values_list("pk", flat=True))
    if isinstance(record, Department):
        # A new time zone moves its procedures' local start dates.
        return list(
            Procedure.objects.filter(patient__department=record).values_list("pk", flat=True)
        )
    procedure_id = getattr(record, "procedure_id", None)
    return [procedure_id] if procedure_id is not None else []


class ScopedAdmin(SimpleHistoryAdmin):
    """Admin pages show only the user's departments' records (superusers see all).

    History is read-only here: the audit trail must not be rewritten through
    any interface, so a historical version can be viewed but never reverted to
    or edited (simple-history would otherwise save its form on POST).

    Edits and deletions made here keep the outcome summary that the rates read
    exact, in the admin's own transaction, as the services do
    (``complications.outcomes``), and tell open dashboards once committed.
    """

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        # After the record, its inlines (a procedure's fractures) and its M2M
        # (a contact's fractures): the whole change is in the database.
        super().save_related(request, form, formsets, change)
        record = form.instance
        procedures = _procedures_of(record)
        if isinstance(record, Department) and "time_zone" not in form.changed_data:
            procedures = []  # only its time zone moves its procedures' dates
        if isinstance(record, Procedure | Fracture):
            services.all_fractures_cover(procedure_ids=procedures)
        services.clinical_change(procedure_ids=procedures)

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        from complications.outcomes import outcomes_months

        procedures = _procedures_of(obj)
        months = outcomes_months(procedure_ids=procedures)
        with transaction.atomic():
            super().delete_model(request, obj)
            services.clinical_change(procedure_ids=procedures, months=months)

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        from complications.outcomes import outcomes_months

        procedures = [pk for record in queryset for pk in _procedures_of(record)]
        months = outcomes_months(procedure_ids=procedures)
        with transaction.atomic():
            super().delete_queryset(request, queryset)
            services.clinical_change(procedure_ids=procedures, months=months)

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return scope_to_user(super().get_queryset(request), request.user)

    def revert_disabled(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return True

    def has_change_history_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):  # type: ignore[no-untyped-def]
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        fields = tuple(super().get_readonly_fields(request, obj))
        return (*fields, "audit_trail") if obj is not None and audit_name(self.model) else fields

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj) -> str:  # type: ignore[no-untyped-def]
        url = reverse("audit-record", args=(audit_name(self.model), obj.pk))
        return format_html('<a href="{}">{}</a>', url, _("Every change, with who, when and why"))


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

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        if "fractures" in form.changed_data:
            # Fractures picked here are named: the contact covers those only, as
            # when the API names them.
            obj.all_fractures = False
        super().save_model(request, obj, form, change)

"""Admin pages: a read-only, department-scoped view of the clinical records, and the
administrators' (superusers') own door, which writes only through the services.

Clinical records change through the services (``registry.services``,
``complications.services``), whichever door a person comes in by: a second
write path would skip their rules (departments, windows, protections).
Everyone but superusers may therefore at most *view* clinical records and
departments here, scoped to their departments; radiologists and data managers
correct records in the registry's own pages (``registry.corrections``).
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models, transaction
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from simple_history.admin import SimpleHistoryAdmin

from registry import services
from registry.audit.selectors import audit_name
from registry.forms import add_service_errors
from registry.models import Department, FollowUp, Fracture, Patient, Procedure
from registry.scoping import scope_to_user


class ServiceAdminForm(forms.ModelForm):
    """An admin form whose save is a service call, made when the form is validated.

    Validating is the last moment a service's ``ValidationError`` can still be
    shown on the form (the admin saves only valid forms, and a refusal there
    would be a 500); the call runs in a savepoint, so a refusal leaves nothing
    half-saved. ``ScopedAdmin.save_model`` then only takes the saved record.
    """

    reason = forms.CharField(
        label=_("Reason for the change"),
        max_length=100,
        required=False,
        help_text=_("Kept in the record's audit trail."),
    )

    # Set on the per-request form class by ``ScopedAdmin.get_form``.
    admin: ScopedAdmin
    request: Any

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Every edit of a saved record says why (a creation is its own audit entry).
        self.fields["reason"].required = self.instance.pk is not None
        self.saved: models.Model | None = None

    def _post_clean(self) -> None:
        super()._post_clean()
        if self.errors:
            return
        try:
            with transaction.atomic():
                self.saved = self.admin.service_save(self.request, self)
        except ValidationError as error:
            add_service_errors(self, error)

    def changes(self, *names: str) -> dict[str, Any]:
        """The changed ones of ``names``, with their new values (what an update service takes)."""
        return {name: self.cleaned_data[name] for name in names if name in self.changed_data}


class _Refused(Exception):
    """A service refused a deletion: the admin shows its message instead of deleting."""

    def __init__(self, error: ValidationError) -> None:
        self.messages = error.messages


class ScopedAdmin(SimpleHistoryAdmin):
    """Admin pages show only the user's departments' records (superusers see all).

    Only superusers may add, change or delete here, and their writes go through
    the services (``service_save``, ``services.record_delete``): the forms'
    choices are scoped to the user's departments, and a service's refusal is
    shown as a form error or a message.

    History is read-only here: the audit trail must not be rewritten through
    any interface, so a historical version can be viewed but never reverted to
    or edited (simple-history would otherwise save its form on POST).
    """

    form = ServiceAdminForm
    save_as = False
    # Fields that name the record's place (its procedure): fixed once it exists.
    fixed_on_change: tuple[str, ...] = ()

    # --- who may write -------------------------------------------------------------

    def has_add_permission(self, request, *args) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser and super().has_add_permission(request, *args)

    def has_change_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser and super().has_change_permission(request, obj)

    def has_delete_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return request.user.is_superuser and super().has_delete_permission(request, obj)

    # --- what may be chosen ----------------------------------------------------------

    def get_queryset(self, request):  # type: ignore[no-untyped-def]
        return scope_to_user(super().get_queryset(request), request.user)

    def _scoped(self, db_field, request, kwargs: dict[str, Any]) -> None:  # type: ignore[no-untyped-def]
        model = db_field.related_model
        if "queryset" not in kwargs and hasattr(model, "DEPARTMENT_PATH"):
            kwargs["queryset"] = scope_to_user(model._default_manager.all(), request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        self._scoped(db_field, request, kwargs)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):  # type: ignore[no-untyped-def]
        self._scoped(db_field, request, kwargs)
        return super().formfield_for_manytomany(db_field, request, **kwargs)

    def get_readonly_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        fields = tuple(super().get_readonly_fields(request, obj))
        if obj is not None:
            fields = (*fields, *self.fixed_on_change)
            if audit_name(self.model):
                fields = (*fields, "audit_trail")
        return fields

    def get_fields(self, request, obj=None):  # type: ignore[no-untyped-def]
        fields = list(super().get_fields(request, obj))
        # Declared ``fields`` leave out the read-only displays (fractures, audit trail).
        fields += [f for f in self.get_readonly_fields(request, obj) if f not in fields]
        if obj is None or not self.has_change_permission(request, obj):
            fields = [name for name in fields if name != "reason"]
        elif "reason" in fields:
            fields.append(fields.pop(fields.index("reason")))
        return fields

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change=change, **kwargs)
        if issubclass(form, ServiceAdminForm):
            form.admin = self
            form.request = request
        return form

    # --- saving and deleting through the services -------------------------------------

    def service_save(self, request, form: ServiceAdminForm) -> models.Model:  # type: ignore[no-untyped-def]
        """Create or update the record through its service; raise its ``ValidationError``."""
        raise NotImplementedError

    def current(self, form: ServiceAdminForm) -> Any:
        """The record as stored (the form's instance already holds the posted values)."""
        return self.model._default_manager.select_for_update().get(pk=form.instance.pk)

    def save_model(self, request, obj, form, change):  # type: ignore[no-untyped-def]
        obj.pk = form.saved.pk
        obj.refresh_from_db()

    def save_related(self, request, form, formsets, change):  # type: ignore[no-untyped-def]
        # The service set the relations (a contact's fractures) with the record.
        pass

    def delete_model(self, request, obj):  # type: ignore[no-untyped-def]
        try:
            services.record_delete(record=obj)
        except ValidationError as error:
            raise _Refused(error) from None

    def delete_queryset(self, request, queryset):  # type: ignore[no-untyped-def]
        try:
            with transaction.atomic():
                for record in queryset:
                    services.record_delete(record=record)
        except ValidationError as error:
            raise _Refused(error) from None

    def _refused(self, request, error: _Refused, url: str) -> HttpResponseRedirect:  # type: ignore[no-untyped-def]
        for message in error.messages:
            self.message_user(request, message, level=messages.ERROR)
        return HttpResponseRedirect(url)

    def delete_view(self, request, object_id, extra_context=None):  # type: ignore[no-untyped-def]
        try:
            return super().delete_view(request, object_id, extra_context)
        except _Refused as error:
            opts = self.model._meta
            url = reverse(
                f"admin:{opts.app_label}_{opts.model_name}_change",
                args=[object_id],
                current_app=self.admin_site.name,
            )
            return self._refused(request, error, url)

    def changelist_view(self, request, extra_context=None):  # type: ignore[no-untyped-def]
        try:
            return super().changelist_view(request, extra_context)
        except _Refused as error:
            return self._refused(request, error, request.get_full_path())

    # --- the audit trail, read-only ---------------------------------------------------

    def revert_disabled(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return True

    def has_change_history_permission(self, request, obj=None) -> bool:  # type: ignore[no-untyped-def]
        return False

    def history_form_view(self, request, object_id, version_id, extra_context=None):  # type: ignore[no-untyped-def]
        if request.method not in ("GET", "HEAD"):
            raise PermissionDenied
        return super().history_form_view(request, object_id, version_id, extra_context)

    @admin.display(description=_("audit trail"))
    def audit_trail(self, obj) -> str:  # type: ignore[no-untyped-def]
        url = reverse("audit-record", args=(audit_name(self.model), obj.pk))
        return format_html('<a href="{}">{}</a>', url, _("Every change, with who, when and why"))


@admin.register(Department)
class DepartmentAdmin(ScopedAdmin):
    list_display = ("code", "name", "time_zone")
    search_fields = ("code", "name")
    fields = ("code", "name", "time_zone", "default_guidance", "members", "reason")
    filter_horizontal = ("members",)

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        values = ("code", "name", "time_zone", "default_guidance")
        if form.instance.pk is None:
            department = services.department_create(**{k: form.cleaned_data[k] for k in values})
        else:
            department = services.department_update(
                department=self.current(form), **form.changes(*values)
            )
        # Membership is no clinical record: who belongs is the administrator's to set.
        department.members.set(form.cleaned_data["members"])
        return department


@admin.register(Patient)
class PatientAdmin(ScopedAdmin):
    list_display = ("registry_id", "department", "sex", "birth_date")
    list_filter = ("department", "sex")
    search_fields = ("registry_id",)
    fields = ("department", "registry_id", "sex", "birth_date", "reason")

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        if form.instance.pk is None:
            return services.patient_create(
                department=data["department"],
                registry_id=data["registry_id"],
                sex=data["sex"],
                birth_date=data["birth_date"],
            )
        return services.patient_update(
            patient=self.current(form),
            reason=data["reason"],
            **form.changes("department", "registry_id", "sex", "birth_date"),
        )


@admin.register(Procedure)
class ProcedureAdmin(ScopedAdmin):
    list_display = ("patient", "started_at", "ended_at", "guidance", "anesthesia", "operator")
    list_filter = ("guidance", "anesthesia", "patient__department")
    search_fields = ("patient__registry_id", "operator")
    date_hierarchy = "started_at"
    list_select_related = ("patient",)
    fields = ("patient", "started_at", "ended_at", "guidance", "anesthesia", "operator", "reason")
    readonly_fields = ("fracture_list",)

    @admin.display(description=_("fractures"))
    def fracture_list(self, obj: Procedure) -> str:
        # Each fracture is changed on its own page, through the fracture service.
        if obj.pk is None:
            return "—"
        return format_html_join(
            ", ",
            '<a href="{}">{}</a>',
            (
                (reverse("admin:registry_fracture_change", args=[f.pk]), str(f))
                for f in obj.fractures.all()
            ),
        ) or gettext("None recorded.")

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        names = ("started_at", "ended_at", "guidance", "anesthesia", "operator")
        if form.instance.pk is None:
            return services.procedure_create(
                patient=data["patient"], **{name: data[name] for name in names}
            )
        return services.procedure_update(
            procedure=self.current(form), reason=data["reason"], **form.changes("patient", *names)
        )


@admin.register(Fracture)
class FractureAdmin(ScopedAdmin):
    list_display = ("procedure", *Fracture.CLINICAL_FIELDS)
    list_filter = ("type", "site", "aetiology")
    list_select_related = ("procedure__patient",)
    fields = ("procedure", *Fracture.CLINICAL_FIELDS, "reason")
    fixed_on_change = ("procedure",)

    VALUES = Fracture.CLINICAL_FIELDS

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        if form.instance.pk is None:
            return services.fracture_create(
                procedure=data["procedure"], **{name: data[name] for name in self.VALUES}
            )
        return services.fracture_update(
            fracture=self.current(form), reason=data["reason"], **form.changes(*self.VALUES)
        )


@admin.register(FollowUp)
class FollowUpAdmin(ScopedAdmin):
    list_display = ("procedure", "contact_at", "kind")
    list_filter = ("kind",)
    filter_horizontal = ("fractures",)
    list_select_related = ("procedure__patient",)
    fields = ("procedure", "contact_at", "kind", "fractures", "notes", "reason")
    fixed_on_change = ("procedure",)

    def get_form(self, request, obj=None, change=False, **kwargs):  # type: ignore[no-untyped-def]
        form = super().get_form(request, obj, change=change, **kwargs)
        if obj is not None and "fractures" in form.base_fields:
            form.base_fields["fractures"].queryset = obj.procedure.fractures.all()
        return form

    def service_save(self, request, form):  # type: ignore[no-untyped-def]
        data = form.cleaned_data
        if form.instance.pk is None:
            return services.follow_up_create(
                procedure=data["procedure"],
                contact_at=data["contact_at"],
                kind=data["kind"],
                fractures=list(data["fractures"]) or None,
                notes=data["notes"],
            )
        return services.follow_up_update(
            follow_up=self.current(form),
            fractures=list(data["fractures"]) if "fractures" in form.changed_data else None,
            reason=data["reason"],
            **form.changes("contact_at", "kind", "notes"),
        )

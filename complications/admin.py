from django.contrib import admin

from complications.models import ComplicationEvent, CtcaeTerm
from registry.admin import ScopedAdmin


@admin.register(CtcaeTerm)
class CtcaeTermAdmin(admin.ModelAdmin):
    list_display = ("code", "name", "soc", "curated")
    list_filter = ("curated", "soc")
    search_fields = ("code", "name")


@admin.register(ComplicationEvent)
class ComplicationEventAdmin(ScopedAdmin):
    list_display = ("procedure", "term", "window", "grade", "auto_grade", "grade_override", "outcome")
    list_filter = ("window", "grade", "outcome")
    search_fields = ("term__name", "procedure__patient__registry_id")
    readonly_fields = ("auto_grade", "grade", "grade_rationale", "window", "hours_after_end")
    autocomplete_fields = ("term",)
    filter_horizontal = ("fractures",)
    list_select_related = ("procedure__patient", "term")

from django.urls import path

from complications import entry_views, export_views, freeze_views, import_views, views
from complications.analysis import views as analysis_views

urlpatterns = [
    # Complications on a case (the case page itself is registry's).
    path("cases/terms/", entry_views.term_search, name="case-terms"),
    path(
        "cases/<int:pk>/complications/new/",
        entry_views.complication_create,
        name="case-complication-add",
    ),
    path(
        "cases/<int:pk>/complications/<int:event_pk>/edit/",
        entry_views.complication_edit,
        name="case-complication-edit",
    ),
    path(
        "cases/<int:pk>/complications/preview/",
        entry_views.complication_preview,
        name="case-complication-preview",
    ),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("freezes/", freeze_views.freeze_list, name="freezes"),
    path("freezes/new/", freeze_views.freeze_create, name="freeze-create"),
    path("freezes/<int:pk>/sign/", freeze_views.freeze_sign, name="freeze-sign"),
]
urlpatterns += [
    path("dashboard/report/", views.report, name="dashboard-report"),
    path("dashboard/data-quality/", views.data_quality, name="dashboard-data-quality"),
]

urlpatterns += [
    path("exports/", export_views.exports_page, name="exports"),
    path("exports/codebook/", export_views.codebook_page, name="export-codebook"),
    path(
        "exports/codebook/redcap.csv", export_views.codebook_redcap, name="export-codebook-redcap"
    ),
    path("exports/codebook.pdf", export_views.codebook_pdf, name="export-codebook-pdf"),
]

urlpatterns += [
    path("dashboard/targets/", views.quality_targets, name="dashboard-targets"),
    path("dashboard/alerts/", views.quality_alerts, name="dashboard-alerts"),
    path(
        "dashboard/alerts/<int:pk>/acknowledge/",
        views.quality_alert_acknowledge,
        name="dashboard-alert-acknowledge",
    ),
]


urlpatterns += [
    path("dashboard/outcomes/", analysis_views.outcome_analyses, name="dashboard-outcomes"),
]


urlpatterns += [
    path("imports/", import_views.imports_page, name="imports"),
    path("imports/template.xlsx", import_views.import_template, name="import-template-page"),
    path("imports/<int:pk>/", import_views.import_detail, name="import-detail"),
    path("imports/<int:pk>/report.csv", import_views.import_report, name="import-report-page"),
    path("imports/<int:pk>/commit/", import_views.import_commit, name="import-commit"),
]

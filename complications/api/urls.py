from django.urls import path
from rest_framework.routers import SimpleRouter

from complications.api import analysis, exports, fhir_bulk, freezes, quality, stats, views
from complications.api import imports as import_views

urlpatterns = [
    path("stats/rates/", stats.RatesView.as_view(), name="stats-rates"),
    path("stats/cohort/", stats.CohortView.as_view(), name="stats-cohort"),
    path("stats/breakdown/", stats.BreakdownView.as_view(), name="stats-breakdown"),
    path("stats/version/", stats.VersionView.as_view(), name="stats-version"),
]

# REST API v1: complications, grading preview, CTCAE catalogue.
router = SimpleRouter()
router.register("complications", views.ComplicationViewSet, basename="complication")
router.register("ctcae/terms", views.CtcaeTermViewSet, basename="ctcae-term")
router.register("freezes", freezes.FreezeViewSet, basename="freeze")

urlpatterns += [
    path("grading/preview/", views.GradingPreviewView.as_view(), name="grading-preview"),
    *router.urls,
]

urlpatterns += [
    path(
        "export/complications.csv",
        exports.ComplicationsCsvView.as_view(),
        name="export-complications-csv",
    ),
    path("export/cases.csv", exports.CasesCsvView.as_view(), name="export-cases-csv"),
    path("export/fhir/", exports.FhirBundleView.as_view(), name="export-fhir"),
    path("exports/", exports.ExportJobListCreateView.as_view(), name="export-job-list"),
    path("exports/<int:pk>/", exports.ExportJobDetailView.as_view(), name="export-job-detail"),
    path(
        "exports/<int:pk>/download/",
        exports.ExportJobDownloadView.as_view(),
        name="export-job-download",
    ),
]

urlpatterns += [path("stats/cusum/", quality.CusumView.as_view(), name="stats-cusum")]


urlpatterns += [
    path(
        "stats/cumulative-incidence/",
        analysis.CumulativeIncidenceView.as_view(),
        name="stats-cumulative-incidence",
    ),
    path("stats/funnel/", analysis.FunnelView.as_view(), name="stats-funnel"),
    path("stats/risk-adjusted/", analysis.RiskAdjustedView.as_view(), name="stats-risk-adjusted"),
]


urlpatterns += [
    path("fhir/$export", fhir_bulk.BulkExportKickoffView.as_view(), name="fhir-bulk-kickoff"),
    path(
        "fhir/$export/<int:pk>/", fhir_bulk.BulkExportStatusView.as_view(), name="fhir-bulk-status"
    ),
    path(
        "fhir/$export/<int:pk>/<str:resource_type>.ndjson",
        fhir_bulk.BulkExportFileView.as_view(),
        name="fhir-bulk-file",
    ),
]


urlpatterns += [
    path("imports/", import_views.ImportCreateView.as_view(), name="import-job-create"),
    path(
        "imports/template.xlsx", import_views.ImportTemplateView.as_view(), name="import-template"
    ),
    path("imports/<int:pk>/", import_views.ImportDetailView.as_view(), name="import-job-detail"),
    path(
        "imports/<int:pk>/commit/",
        import_views.ImportCommitView.as_view(),
        name="import-job-commit",
    ),
    path(
        "imports/<int:pk>/report.csv", import_views.ImportReportView.as_view(), name="import-report"
    ),
]

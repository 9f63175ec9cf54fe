from django.urls import path

urlpatterns: list = []

from complications.api import stats  # noqa: E402

urlpatterns += [
    path("stats/rates/", stats.RatesView.as_view(), name="stats-rates"),
    path("stats/cohort/", stats.CohortView.as_view(), name="stats-cohort"),
    path("stats/breakdown/", stats.BreakdownView.as_view(), name="stats-breakdown"),
    path("stats/version/", stats.VersionView.as_view(), name="stats-version"),
]

# REST API v1: complications, grading preview, CTCAE catalogue.
from rest_framework.routers import SimpleRouter  # noqa: E402

from complications.api import views  # noqa: E402

router = SimpleRouter()
router.register("complications", views.ComplicationViewSet, basename="complication")
router.register("ctcae/terms", views.CtcaeTermViewSet, basename="ctcae-term")

urlpatterns += [
    path("grading/preview/", views.GradingPreviewView.as_view(), name="grading-preview"),
    *router.urls,
]

from complications.api import exports  # noqa: E402

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

from complications.api import quality  # noqa: E402

urlpatterns += [path("stats/cusum/", quality.CusumView.as_view(), name="stats-cusum")]

from complications.api import imports as import_views  # noqa: E402

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

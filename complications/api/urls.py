from django.urls import path
from rest_framework.routers import SimpleRouter

from complications.api import exports, freezes, quality, stats, views

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

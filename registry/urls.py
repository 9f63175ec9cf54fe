from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

from registry import corrections, query_views, verification_views, views
from registry.api.root import api_root
from registry.audit import views as audit_views

api_v1 = [
    path("", api_root, name="api-root"),
    path("schema/", SpectacularAPIView.as_view(), name="schema"),
    # The split view serves its script as a file: the CSP allows no inline script.
    path("docs/", SpectacularSwaggerSplitView.as_view(url_name="schema"), name="api-docs"),
    path("", include("registry.api.urls")),
]

urlpatterns = [
    path("", views.home, name="home"),
    path("health/", views.health, name="health"),
    path("health/live/", views.liveness, name="health-live"),
    path("health/ready/", views.health, name="health-ready"),
    path("cases/", views.case_list, name="case-list"),
    path("cases/new/", views.case_create, name="case-create"),
    path("cases/<int:pk>/", views.case_detail, name="case-detail"),
    path("cases/<int:pk>/follow-ups/", views.follow_up_add, name="case-follow-up-add"),
    path("cases/<int:pk>/verify/", verification_views.case_verify, name="case-verify"),
    path("cases/<int:pk>/unlock/", verification_views.case_unlock, name="case-unlock"),
    path("cases/<int:pk>/queries/", query_views.query_open, name="case-query-open"),
    path("queries/", query_views.query_list, name="query-list-page"),
    path("queries/<int:pk>/", query_views.query_detail, name="query-page"),
    path(
        "queries/<int:pk>/<str:verb>/",
        query_views.query_act,
        name="query-act",
    ),
    path("patients/", views.patient_list, name="patients"),
    # Corrections of saved records (registry.corrections).
    path("patients/<int:pk>/edit/", corrections.patient_edit, name="patient-edit"),
    path("patients/<int:pk>/delete/", corrections.patient_delete, name="patient-delete"),
    path("cases/<int:pk>/edit/", corrections.procedure_edit, name="case-edit"),
    path("cases/<int:pk>/delete/", corrections.procedure_delete, name="case-delete"),
    path(
        "cases/<int:pk>/fractures/<int:fracture_pk>/edit/",
        corrections.fracture_edit,
        name="case-fracture-edit",
    ),
    path(
        "cases/<int:pk>/fractures/<int:fracture_pk>/delete/",
        corrections.fracture_delete,
        name="case-fracture-delete",
    ),
    path(
        "cases/<int:pk>/follow-ups/<int:follow_up_pk>/edit/",
        corrections.follow_up_edit,
        name="case-follow-up-edit",
    ),
    path(
        "cases/<int:pk>/follow-ups/<int:follow_up_pk>/delete/",
        corrections.follow_up_delete,
        name="case-follow-up-delete",
    ),
    path("worklist/", views.worklist, name="worklist"),
    path("profile/", views.profile, name="profile"),
    path("profile/language/", views.profile_language, name="profile-language"),
    # Sign-in (password, single sign-on), second factor, API tokens, members: registry.accounts.
    path("", include("registry.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("admin/", admin.site.urls),
    path("api/v1/", include(api_v1)),
    # The complication pages (entry on a case, dashboards, exports): complications.urls.
    path("", include("complications.urls")),
]

# The audit trail (registry.audit): one record's history, and the data managers' export.

urlpatterns += [
    path("audit/export.csv", audit_views.export, name="audit-export"),
    path("audit/<str:model>/<int:pk>/", audit_views.record, name="audit-record"),
]

handler404 = "registry.api.views.not_found"
# JSON under /api/, Django's pages elsewhere (registry.api.errors).
handler400 = "registry.api.errors.bad_request"
handler403 = "registry.api.errors.permission_denied"
handler500 = "registry.api.errors.server_error"

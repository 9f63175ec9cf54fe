from django.urls import include, path
from rest_framework.routers import SimpleRouter

from registry.api import queries, views

router = SimpleRouter()
router.register("departments", views.DepartmentViewSet, basename="department")
router.register("patients", views.PatientViewSet, basename="patient")
router.register("procedures", views.ProcedureViewSet, basename="procedure")
router.register("fractures", views.FractureViewSet, basename="fracture")
router.register("follow-ups", views.FollowUpViewSet, basename="follow-up")
router.register("queries", queries.QueryViewSet, basename="query")

urlpatterns = [
    path("auth/token/", views.TokenView.as_view(), name="api-token"),
    path("", include(router.urls)),
    path("", include("complications.api.urls")),
]

from django.urls import path

from complications import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]
urlpatterns += [
    path("dashboard/report/", views.report, name="dashboard-report"),
    path("dashboard/data-quality/", views.data_quality, name="dashboard-data-quality"),
]

from complications import export_views  # noqa: E402

urlpatterns += [
    path("exports/", export_views.exports_page, name="exports"),
    path("account/api-token/", export_views.api_token, name="account-api-token"),
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

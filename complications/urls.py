from django.urls import path

from complications import entry_views, export_views, freeze_views, views

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

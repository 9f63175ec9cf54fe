from django.urls import path

from complications import views

urlpatterns = [
    path("dashboard/", views.dashboard, name="dashboard"),
]

from django.urls import path

from . import views

app_name = "discipline"

urlpatterns = [
    path("", views.index, name="index"),
    path("check/", views.check, name="check"),
    path("checks/<int:check_id>/feedback/", views.feedback, name="feedback"),
    path("measures/", views.measures, name="measures"),
]

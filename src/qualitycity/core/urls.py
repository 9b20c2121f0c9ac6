from django.urls import path

from . import views

app_name = "core"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("", views.dashboard, name="dashboard"),
    path("jobs/", views.job_list, name="jobs"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job"),
    # One name, two forms: reverse("core:changes") is the city-wide list,
    # reverse("core:changes", args=[app_label, model, pk]) one object's change log.
    path("changes/", views.change_list, name="changes"),
    path(
        "changes/<slug:app_label>/<slug:model_name>/<str:object_id>/",
        views.object_changes,
        name="changes",
    ),
]

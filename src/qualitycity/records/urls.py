from django.urls import path

from . import views

app_name = "records"

urlpatterns = [
    path("", views.submissions, name="submissions"),
    path("submissions/<int:pk>/", views.submission, name="submission"),
    path("submissions/<int:pk>/errors.csv", views.error_report, name="error_report"),
    path("upload/", views.upload, name="upload"),
    path("jobs/<uuid:job_id>/", views.job, name="job"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("quarantine/", views.quarantine, name="quarantine"),
    path("quarantine/<int:pk>/", views.quarantine_row, name="quarantine_row"),
    path("quarantine/<int:pk>/discard/", views.quarantine_discard, name="quarantine_discard"),
    path("timeliness/", views.timeliness, name="timeliness"),
    path("files/", views.credit_file_lookup, name="credit_file_lookup"),
    path("files/<str:code>/", views.credit_file, name="credit_file"),
]

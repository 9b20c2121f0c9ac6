from django.urls import path

from . import views

app_name = "plan"

urlpatterns = [
    path("", views.index, name="index"),
    path("targets/<slug:code>/", views.target_detail, name="target"),
    path("tasks/", views.tasks, name="tasks"),
    path("tasks/<str:number>/", views.measure_detail, name="measure"),
    path("tasks/<str:number>/confirm/", views.measure_confirm, name="measure_confirm"),
    path("tasks/<str:number>/report/", views.report_new, name="report_new"),
    path("reports/", views.reports, name="reports"),
    path("reports/<int:pk>/", views.report_detail, name="report"),
    path("reports/<int:pk>/review/", views.report_review, name="report_review"),
    path("reports/<int:pk>/evidence/<int:index>/", views.report_evidence, name="report_evidence"),
    path("act/<slug:action>/", views.act, name="act"),
    path("assessment/<int:year>/", views.assessment, name="assessment"),
    path("notices/", views.notices, name="notices"),
    path("notices/<int:pk>/", views.notice_act, name="notice_act"),
    path("standards/", views.standards, name="standards"),
    path("brands/", views.brands, name="brands"),
    path("registries/upload/", views.registry_upload, name="registry_upload"),
    path("registries/files/<int:pk>/", views.registry_file, name="registry_file"),
    path("export/", views.export, name="export"),
]

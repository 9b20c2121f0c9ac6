from django.urls import path

from . import views

app_name = "lists"

urlpatterns = [
    path("", views.index, name="index"),
    path("entries/", views.entries, name="entries"),
    path("entries/<int:pk>/", views.entry, name="entry"),
    path("entries/<int:pk>/object/", views.entry_object, name="entry_object"),
    path("entries/<int:pk>/repair/", views.entry_repair, name="entry_repair"),
    path("entries/<int:pk>/<slug:action>/", views.entry_act, name="entry_act"),
    path("propose/", views.propose, name="propose"),
    path("rules/", views.rules_run, name="rules_run"),
    path("expire/", views.expire_run, name="expire_run"),
    path("jobs/<uuid:job_id>/", views.job, name="job"),
    path("jobs/<uuid:job_id>/progress/", views.job_progress, name="job_progress"),
    path("objections/", views.objections, name="objections"),
    path("objections/<int:pk>/", views.objection, name="objection"),
    path("objections/<int:pk>/decide/", views.objection_decide, name="objection_decide"),
    path("objections/<int:pk>/withdraw/", views.objection_withdraw, name="objection_withdraw"),
    path(
        "objections/<int:pk>/evidence/<str:sha256>/",
        views.objection_evidence,
        name="objection_evidence",
    ),
    path("repairs/", views.repairs, name="repairs"),
    path("repairs/<int:pk>/decide/", views.repair_decide, name="repair_decide"),
    path("repairs/<int:pk>/evidence/<str:sha256>/", views.repair_evidence, name="repair_evidence"),
    path("records/<str:code>/object/", views.record_objection, name="record_objection"),
    path("overdue/", views.overdue, name="overdue"),
    path("mine/", views.mine, name="mine"),
]

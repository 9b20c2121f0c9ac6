from django.urls import path

from . import views

app_name = "supervision"

urlpatterns = [
    path("", views.index, name="index"),
    path("plans/new/", views.plan_new, name="plan_new"),
    path("plans/<int:pk>/", views.plan_detail, name="plan"),
    path("plans/<int:pk>/draw/", views.plan_draw, name="plan_draw"),
    path("plans/<int:pk>/verify/", views.plan_verify, name="plan_verify"),
    path("plans/<int:pk>/tasks/<int:number>/", views.task_detail, name="task"),
    path("spot-checks/", views.spot_checks, name="spot_checks"),
    path("spot-checks/<int:pk>/", views.spot_check, name="spot_check"),
    path("incidents/", views.incidents, name="incidents"),
    path("incidents/<int:pk>/", views.incident, name="incident"),
    path("commitments/", views.commitments, name="commitments"),
    path("inspectors/", views.inspectors, name="inspectors"),
]

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("credit/<str:code>/", views.credit_file, name="credit_file"),
    # /lists/ is the staff side; the public reads the lists here.
    path("public/lists/", views.lists_catalogue, name="lists"),
    path("public/lists/<slug:list_code>/", views.list_entries, name="list"),
    path("public/inspections/", views.inspections, name="inspections"),
    path("public/plan/", views.plan_progress, name="plan"),
]

from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.home, name="home"),
    path("search/", views.search, name="search"),
    path("credit/<str:code>/", views.credit_file, name="credit_file"),
]

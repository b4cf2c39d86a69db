from django.urls import path

from . import views

app_name = "promoters"

urlpatterns = [
    path("r/<str:code>", views.follow, name="follow"),
    path("promoter/", views.page, name="page"),
    path("promoter/apply/<slug:merchant_slug>/", views.apply, name="apply"),
    path("promoter/<str:promoter_id>/orders.csv", views.orders_csv, name="orders-csv"),
    path("promoter/<str:promoter_id>/withdraw/", views.withdraw, name="withdraw"),
    path("promoter/<str:promoter_id>/links/", views.make_link, name="make-link"),
]

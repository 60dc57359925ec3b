from django.urls import path

from advice import views

urlpatterns = [
    path("advice/", views.advice_queue, name="advice-queue"),
    path("advice/<int:pk>/", views.advice_detail, name="advice-detail"),
    path("advice/<int:pk>/release/", views.advice_release, name="advice-release"),
    path("advice/<int:pk>/withdraw/", views.advice_withdraw, name="advice-withdraw"),
    path("advice/<int:pk>/accept/", views.advice_accept, name="advice-accept"),
    path("advice/<int:pk>/reject/", views.advice_reject, name="advice-reject"),
]

from django.urls import path

from notifications import views

urlpatterns = [
    path("notifications/", views.notification_list, name="notification-list"),
    path(
        "notifications/<int:pk>/open/",
        views.notification_open,
        name="notification-open",
    ),
    path(
        "notifications/read-all/",
        views.notification_read_all,
        name="notification-read-all",
    ),
]

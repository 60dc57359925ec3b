from django.apps import AppConfig


class NotificationsConfig(AppConfig):
    """Sample reminders, the in-app inbox and its e-mail."""

    name = "notifications"
    verbose_name = "Reminders and notifications"

    def ready(self) -> None:
        from notifications import receivers  # noqa: F401 - connects the advice signals

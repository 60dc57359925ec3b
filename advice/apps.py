from django.apps import AppConfig


class AdviceConfig(AppConfig):
    """The clinical engine (pure Python) and its `advise` command; it owns no models."""

    name = "advice"
    verbose_name = "Dosing advice engine"

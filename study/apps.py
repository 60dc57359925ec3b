from django.apps import AppConfig


class StudyConfig(AppConfig):
    """Study data: outcomes, the summary, pseudonymised exports and the cohort import."""

    name = "study"
    verbose_name = "Study data"

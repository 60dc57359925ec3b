from django.apps import AppConfig
from django.db.models.signals import post_migrate


class CasesConfig(AppConfig):
    name = "cases"
    verbose_name = "TDM cases"

    def ready(self) -> None:
        from cases import roles, signals  # noqa: F401 - signals connects the login audit

        post_migrate.connect(roles.ensure_roles, sender=self)

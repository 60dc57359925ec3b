from django.apps import AppConfig


class ReportsConfig(AppConfig):
    """The PDF advice report: its data, plot, rendering, storage and render tasks."""

    name = "reports"
    verbose_name = "PDF reports"

    def ready(self) -> None:
        from cases.pages import add_panel
        from reports import panels, receivers  # noqa: F401 - receivers connects the signals

        add_panel("treatment", panels.treatment_plot, order=10)

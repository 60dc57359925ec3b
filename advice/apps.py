from django.apps import AppConfig


class AdviceConfig(AppConfig):
    """Dosing advice: the `Advice` record and its workflow (compute, release, accept, reject).

    The clinical engine it runs is the pure subpackage `advice.engine`. Writes to the clinical
    records that need advice (a result, a correction, an adverse event) reach this app through
    the signals of `cases.signals`, connected here.
    """

    name = "advice"
    verbose_name = "Dosing advice"

    def ready(self) -> None:
        from advice import panels, receivers  # noqa: F401 - receivers connects the signals
        from cases.pages import add_panel

        add_panel("treatment", panels.treatment_advice, order=20)
        add_panel("sample", panels.sample_advice)
        add_panel("adverse_event", panels.adverse_event_advice)

"""The advice sections of the record pages (registered with `cases.pages.add_panel`)."""

from __future__ import annotations

from django.http import HttpRequest

from advice.models import Advice
from cases.models import AdverseEvent, Sample, Treatment
from cases.pages import Panel


def treatment_advice(request: HttpRequest, treatment: Treatment) -> Panel:
    advice = Advice.objects.filter(treatment=treatment).select_related("sample")
    return Panel(
        "advice/_treatment_advice_panel.html",
        {"advice_list": advice.order_by("-created_at")},
    )


def sample_advice(request: HttpRequest, sample: Sample) -> Panel:
    return Panel(
        "advice/_record_advice_panel.html",
        {"advice_list": Advice.objects.filter(sample=sample).order_by("-created_at")},
    )


def adverse_event_advice(request: HttpRequest, event: AdverseEvent) -> Panel:
    return Panel(
        "advice/_record_advice_panel.html",
        {"advice_list": Advice.objects.filter(adverse_event=event).order_by("-created_at")},
    )

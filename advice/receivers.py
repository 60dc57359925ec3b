"""Advice work started by writes to the clinical records (`cases.signals`)."""

from django.dispatch import receiver

from advice import services
from cases import signals
from tdm_site.background import queue_on_commit


@receiver(signals.sample_resulted)
def advise_on_result(sender, sample, **kwargs) -> None:
    from advice import tasks

    queue_on_commit(tasks.compute_sample_advice, sample.pk)


@receiver(signals.adverse_event_recorded)
def advise_on_adverse_event(sender, event, **kwargs) -> None:
    from advice import tasks

    queue_on_commit(tasks.compute_adverse_event_advice, event.pk)


@receiver(signals.sample_cancelled)
def supersede_advice_of_cancelled_sample(sender, sample, actor, **kwargs) -> None:
    services.advice_supersede_for_sample(sample=sample, actor=actor)


@receiver(signals.sample_corrected)
def advise_again_on_corrected_sample(sender, sample, actor, reason, **kwargs) -> None:
    services.advice_supersede_for_sample(sample=sample, actor=actor, reason=reason)

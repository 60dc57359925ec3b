"""Reports rendered when advice changes (`advice.signals`) or a sample its plot shows is
cancelled (`cases.signals`): queued on commit."""

from django.dispatch import receiver

from advice import signals
from advice.models import OPEN_STATES, Advice
from cases import signals as records
from reports import tasks
from tdm_site.background import queue_on_commit


@receiver(signals.advice_created)
@receiver(signals.advice_released)
def render_open_report(sender, advice, **kwargs) -> None:
    queue_on_commit(tasks.render_advice_report, advice.pk)


@receiver(signals.advice_signed)
def render_signed_report(sender, advice, **kwargs) -> None:
    queue_on_commit(tasks.render_signed_report, advice.pk)


@receiver(records.sample_cancelled)
def render_without_the_cancelled_sample(sender, sample, **kwargs) -> None:
    """The open advice of the treatment plots its samples: draw it again without this one."""
    open_advice = Advice.objects.filter(
        treatment_id=sample.treatment_id, state__in=OPEN_STATES
    ).exclude(sample=sample)
    for advice_id in open_advice.values_list("pk", flat=True):
        queue_on_commit(tasks.render_advice_report, advice_id)

"""Reports rendered when advice changes (`advice.signals`) or a sample its plot shows is
cancelled or corrected (`cases.signals`): queued on commit."""

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
@receiver(records.sample_corrected)
def render_with_the_sample_as_it_is_now(sender, sample, **kwargs) -> None:
    """The open advice of the treatment plots its samples: draw it again without a cancelled
    one, or with a corrected one's new values (the sample's own advice is computed again)."""
    open_advice = Advice.objects.filter(
        treatment_id=sample.treatment_id, state__in=OPEN_STATES
    ).exclude(sample=sample)
    for advice_id in open_advice.values_list("pk", flat=True):
        queue_on_commit(tasks.render_advice_report, advice_id)

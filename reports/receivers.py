"""Reports rendered when advice changes (`advice.signals`): queued on commit."""

from django.dispatch import receiver

from advice import signals
from reports import tasks
from tdm_site.background import queue_on_commit


@receiver(signals.advice_created)
@receiver(signals.advice_released)
def render_open_report(sender, advice, **kwargs) -> None:
    queue_on_commit(tasks.render_advice_report, advice.pk)


@receiver(signals.advice_signed)
def render_signed_report(sender, advice, **kwargs) -> None:
    queue_on_commit(tasks.render_signed_report, advice.pk)

"""Notifications sent and read as advice changes and is opened (`advice.signals`)."""

from django.dispatch import receiver

from advice import signals
from notifications import services


@receiver(signals.advice_released)
def notify_physicians(sender, advice, **kwargs) -> None:
    services.advice_released(advice)


@receiver(signals.advice_opened)
def mark_read(sender, advice, reader, **kwargs) -> None:
    """Having opened the advice, the reader has seen what its notifications were about."""
    services.mark_read(reader, advice=advice)

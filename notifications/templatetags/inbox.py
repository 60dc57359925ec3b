"""The unread count beside the main menu's bell, on every page."""

from django import template

from notifications.models import Notification

register = template.Library()


@register.simple_tag(takes_context=True)
def unread_notification_count(context) -> int:
    """Unread in-app notifications of the user viewing the page (one indexed count)."""
    user = context.get("user")
    if user is None or not user.is_authenticated:
        return 0
    return Notification.objects.filter(recipient=user, read_at__isnull=True).count()

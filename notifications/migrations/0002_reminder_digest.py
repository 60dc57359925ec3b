"""Sampling reminders are told in one digest per nurse and day (docs/sampling-schedule.md §9):
a notification lists its reminders instead of pointing at one. The notifications sent one per
reminder before keep that reminder in their list."""

from django.db import migrations, models


def list_the_reminder(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    through = Notification.reminders.through
    through.objects.bulk_create(
        through(notification_id=notification_id, reminder_id=reminder_id)
        for notification_id, reminder_id in Notification.objects.filter(
            reminder__isnull=False
        ).values_list("pk", "reminder_id")
    )


def point_at_the_first_reminder(apps, schema_editor):
    Notification = apps.get_model("notifications", "Notification")
    through = Notification.reminders.through
    for notification_id, reminder_id in through.objects.order_by(
        "notification_id", "reminder_id"
    ).values_list("notification_id", "reminder_id"):
        Notification.objects.filter(pk=notification_id, reminder__isnull=True).update(
            reminder_id=reminder_id
        )


class Migration(migrations.Migration):
    dependencies = [("notifications", "0001_initial")]

    operations = [
        migrations.RemoveConstraint(
            model_name="notification", name="one_notification_per_reminder"
        ),
        migrations.AlterField(
            model_name="notification",
            name="reminder",
            field=models.ForeignKey(
                blank=True,
                null=True,
                on_delete=models.deletion.CASCADE,
                related_name="+",
                to="notifications.reminder",
            ),
        ),
        migrations.AddField(
            model_name="notification",
            name="reminders",
            field=models.ManyToManyField(
                blank=True, related_name="notifications", to="notifications.reminder"
            ),
        ),
        migrations.RunPython(list_the_reminder, point_at_the_first_reminder),
        migrations.RemoveField(model_name="notification", name="reminder"),
        migrations.AddField(
            model_name="notification",
            name="digest_date",
            field=models.DateField(
                blank=True, help_text="The day of the reminder scan a digest reports", null=True
            ),
        ),
        migrations.AlterField(
            model_name="notification",
            name="kind",
            field=models.CharField(
                choices=[
                    ("sample_digest", "samples to take"),
                    ("sample_upcoming", "sample due soon"),
                    ("sample_overdue", "sample overdue"),
                    ("advice_released", "advice to sign"),
                    ("advice_unsigned", "advice still unsigned"),
                ],
                max_length=20,
            ),
        ),
        migrations.AddConstraint(
            model_name="notification",
            constraint=models.UniqueConstraint(
                condition=models.Q(("digest_date__isnull", False)),
                fields=("recipient", "kind", "digest_date"),
                name="one_digest_per_recipient_day",
            ),
        ),
    ]

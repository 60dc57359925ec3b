"""Samples cancelled before the reason code existed get it, like every later cancellation."""

from django.db import migrations

CANCELLED_REASON = "cancelled"


def add_reason_code(apps, schema_editor):
    Sample = apps.get_model("cases", "Sample")
    for sample in Sample.objects.filter(status="cancelled").only("pk", "not_evaluable_reasons"):
        if CANCELLED_REASON not in sample.not_evaluable_reasons:
            sample.not_evaluable_reasons = [*sample.not_evaluable_reasons, CANCELLED_REASON]
            sample.save(update_fields=["not_evaluable_reasons"])


class Migration(migrations.Migration):
    dependencies = [("cases", "0005_stored_due_dates")]

    operations = [migrations.RunPython(add_reason_code, migrations.RunPython.noop)]

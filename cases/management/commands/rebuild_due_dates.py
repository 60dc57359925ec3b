"""`python manage.py rebuild_due_dates`: store every treatment's due dates again.

The stored due dates (docs/sampling-schedule.md §13) are rewritten by the services on every
write; this rebuilds them all from the records, in batches of 500 treatments (one transaction
each), after data was written without the services or to check a suspicion. Progress goes to
standard error, a JSON summary to standard output: `{"treatments": 10000, "rows_written": 0}`
when nothing had to change. Safe to repeat and to run while the application is in use.
"""

import json

from django.core.management.base import BaseCommand
from django.utils import timezone

from cases import services


class Command(BaseCommand):
    help = "Rebuild every treatment's stored due dates from its records (JSON summary)."

    def handle(self, *args, **options):
        def report(done: int) -> None:
            self.stderr.write(f"{done} treatments stored")

        summary = services.due_dates_rebuild(today=timezone.localdate(), report=report)
        self.stdout.write(json.dumps(summary))

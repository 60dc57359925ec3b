"""`python manage.py send_reminders [--date YYYY-MM-DD]`: the daily reminder scan, once.

It runs the periodic task `send_sample_reminders` in this process, exactly as beat has it run
every day (docs/sampling-schedule.md §9), for an operator re-running a missed day: `--date` is
the day the scan is for (default today; a later day would remind of what is not due yet).
Idempotent like the task: a second run for the same day sends nothing new. Prints what the run
did as JSON. A malformed or future date ends the command with exit code 2 and one line naming
the option; the digests' e-mails go out through the e-mail task, as after beat's run.
"""

import json

from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from advice.engine.case_input import parse_date
from advice.engine.errors import InputError
from notifications import tasks

BAD_INPUT_EXIT_CODE = 2


class Command(BaseCommand):
    help = "Run the daily sampling reminder scan once, as beat does, for today or a missed day."

    def add_arguments(self, parser):
        parser.add_argument(
            "--date", dest="day", help="YYYY-MM-DD: the day to run the scan for (default today)"
        )

    def handle(self, *args, day: str | None, **options):
        if day is not None:
            _check_day(day)
        self.stdout.write(json.dumps(tasks.send_sample_reminders(day), indent=2))


def _check_day(text: str) -> None:
    try:
        day = parse_date(text, "--date")
    except InputError as error:
        raise CommandError(str(error), returncode=BAD_INPUT_EXIT_CODE) from None
    today = timezone.localdate()
    if day > today:
        raise CommandError(
            f"--date: {text} is after today ({today.isoformat()}); reminders are sent on their day",
            returncode=BAD_INPUT_EXIT_CODE,
        )

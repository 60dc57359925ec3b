"""`python manage.py schedule FILE|-`: the sampling due dates as JSON.

The rules are docs/sampling-schedule.md §1–§7 and, for the optional `extra` dates, §12; the
input and output, §11 there.
"""

from cases import schedule
from cases.management.json_command import JsonCommand


class Command(JsonCommand):
    help = (
        "Compute a treatment's sampling due dates from start, dose changes, interruptions and "
        "extra samples."
    )

    def answer(self, data):
        return schedule.schedule_to_json(
            schedule.compute_due_dates(schedule.parse_schedule_request(data))
        )

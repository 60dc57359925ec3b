"""`python manage.py schedule FILE|-`: the sampling due dates of SPEC §6 as JSON (SPEC §9)."""

from cases import schedule
from cases.management.json_command import JsonCommand


class Command(JsonCommand):
    help = "Compute a treatment's sampling due dates from start, dose changes and interruptions."

    def answer(self, data):
        return schedule.schedule_to_json(
            schedule.compute_due_dates(schedule.parse_schedule_request(data))
        )

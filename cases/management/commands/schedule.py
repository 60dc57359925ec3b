"""`python manage.py schedule FILE|-`: the sampling due dates of SPEC §6 as JSON (SPEC §9)."""

from advice.management.json_command import JsonCommand
from cases import schedule


class Command(JsonCommand):
    help = "Compute a treatment's sampling due dates from start, dose changes and interruptions."

    def answer(self, data):
        return schedule.schedule_to_json(
            schedule.compute_due_dates(schedule.parse_schedule_request(data))
        )

"""`python manage.py advise FILE|-`: one advice case in, the advice of SPEC §5 out (SPEC §9).

Drug facts come from the installation's catalogue (admins' edits included), so the command
answers exactly as the application would.
"""

from advice.engine.case_input import advise_json
from cases.management.json_command import JsonCommand
from cases.models import Drug


def find_drug(name: str):
    return [drug.facts() for drug in Drug.objects.filter(name=name.strip().lower())]


class Command(JsonCommand):
    help = "Compute dosing advice for one sample (JSON case of SPEC §9)."

    def answer(self, data):
        return advise_json(data, find_drug)

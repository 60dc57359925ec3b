"""`python manage.py advise FILE|-`: one advice case in, its advice out (docs/clinical-rules.md
§11; the rules are §2–§5 there).

Drug facts come from the installation's catalogue (admins' edits included), so the command
answers exactly as the application would.
"""

from advice.engine.case_input import advise_json
from cases.management.json_command import JsonCommand
from cases.models import Drug


def find_drug(name: str):
    return [drug.facts() for drug in Drug.objects.filter(name=name.strip().lower())]


class Command(JsonCommand):
    help = "Compute dosing advice for one sample (JSON case of docs/clinical-rules.md §11)."

    def answer(self, data):
        return advise_json(data, find_drug)

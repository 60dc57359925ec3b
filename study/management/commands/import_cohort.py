"""`python manage.py import_cohort FILE`: load a whole cohort (docs/cohort-format.md).

The audit events name `--actor` (an active eTDM user) or, without it, the operating-system user
who ran the command (`os:<name>`).

Everything is checked before anything is written. On any problem the command writes every one
on stderr as `path: message` (one per line), exits with code 2 and leaves the database as it
was; it never prints a traceback. Importing the same file again changes nothing.
"""

import getpass
import json
import sys
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from study.cohort import CohortInvalid, import_cohort

BAD_INPUT_EXIT_CODE = 2


class Command(BaseCommand):
    help = (
        "Import a cohort file (docs/cohort-format.md); idempotent by study number, all or nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="cohort JSON file, or - for standard input")
        parser.add_argument(
            "--actor", help="username the audit trail names (default: the operating-system user)"
        )

    def handle(self, *args, file: str, actor: str | None = None, **options):
        user = None
        if actor is not None:
            user = get_user_model().objects.filter(username=actor, is_active=True).first()
            if user is None:
                self._fail([f"actor: no active user {actor!r}"])
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            self._fail([f"file: cannot read {file}: {error}"])
        try:
            # Decimal keeps the digits as written (2870.5 stays 2870.5, not a binary float).
            document = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as error:
            self._fail([f"file: not valid JSON (line {error.lineno}, column {error.colno})"])
        try:
            result = import_cohort(document, actor=user, actor_username=f"os:{getpass.getuser()}")
        except CohortInvalid as invalid:
            self._fail([str(error) for error in invalid.errors])
        self.stdout.write(
            f"{len(result.imported)} patients imported, {len(result.unchanged)} unchanged"
        )
        if result.sites_created:
            self.stdout.write(f"sites created: {', '.join(result.sites_created)}")

    def _fail(self, lines: list[str]) -> NoReturn:
        for line in lines:
            self.stderr.write(line)
        raise SystemExit(BAD_INPUT_EXIT_CODE)

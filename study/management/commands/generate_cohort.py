"""`python manage.py generate_cohort --patients N --seed S [--sites K] [--append]`.

Writes a synthetic cohort (docs/synthetic-cohort.md): the same rows for the same seed on the same
day, all or nothing. Progress goes to stderr, the summary (rows written per table, seconds) to
stdout as JSON. A bad argument, or a database that already holds patients without `--append`,
ends the command with exit code 2 and one line naming the option.
"""

import argparse
import json

from django.core.management.base import BaseCommand, CommandError

from study.synthetic import CohortRefused, generate_cohort

BAD_INPUT_EXIT_CODE = 2


def positive_integer(text: str) -> int:
    """argparse names the option in front of this message."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a whole number, not {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be 1 or more, not {value}")
    return value


class Command(BaseCommand):
    help = "Write a synthetic cohort (docs/synthetic-cohort.md); deterministic for a seed."

    def add_arguments(self, parser):
        parser.add_argument("--patients", type=positive_integer, required=True)
        parser.add_argument("--seed", type=int, required=True)
        parser.add_argument(
            "--sites", type=positive_integer, default=3, help="number of sites (default 3)"
        )
        parser.add_argument(
            "--append",
            action="store_true",
            help="add to a database that already holds patients (study numbers continue)",
        )

    def handle(self, *args, patients: int, seed: int, sites: int, append: bool, **options):
        try:
            summary = generate_cohort(
                patients=patients,
                seed=seed,
                sites=sites,
                append=append,
                progress=lambda line: self.stderr.write(f"generate_cohort: {line}"),
            )
        except CohortRefused as refused:
            message = f"{refused.option}: {refused}" if refused.option else str(refused)
            raise CommandError(message, returncode=BAD_INPUT_EXIT_CODE) from None
        self.stdout.write(json.dumps(summary, indent=2))

"""What both clinical commands share: JSON in (a file or `-`), JSON out, exit 2 on bad input."""

import json
import sys
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from advice.engine.errors import InputError

BAD_INPUT_EXIT_CODE = 2


class JsonCommand(BaseCommand):
    """Reads one JSON document, hands it to `answer`, prints the JSON it returns.

    Any problem with the input ends the command with exit code 2 and one line on stderr that
    names the field (`sample.drawn_at: …`); it never prints a traceback.
    """

    def add_arguments(self, parser):
        parser.add_argument("file", help="JSON input file, or - for standard input")

    answer: Callable[[Any], Any]  # each command: parsed JSON in, JSON-ready result out

    def handle(self, *args, file: str, **options):
        try:
            text = sys.stdin.read() if file == "-" else Path(file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as error:
            raise CommandError(f"file: cannot read {file}: {error}", returncode=2) from None
        try:
            data = json.loads(text, parse_float=Decimal)
        except json.JSONDecodeError as error:
            raise CommandError(
                f"input: not valid JSON (line {error.lineno}, column {error.colno})",
                returncode=BAD_INPUT_EXIT_CODE,
            ) from None
        try:
            result = self.answer(data)
        except InputError as error:
            raise CommandError(str(error), returncode=BAD_INPUT_EXIT_CODE) from None
        self.stdout.write(json.dumps(result, ensure_ascii=False, indent=2))

"""`python manage.py export_study --format csv|xlsx|json|fhir --out PATH [--key-file FILE]`.

Writes the pseudonymised study export of docs/data-dictionary.md (no name, record number or full
birth date) and prints one summary line. With `--key-file` study numbers are replaced by keyed
pseudonyms and every patient's dates shifted (`study.pseudonym`). A bad option ends the command with
exit code 2 and one line on stderr naming it.
"""

import os
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from cases import audit
from cases.models import AuditEvent
from study.export import FORMATS, write_export
from study.pseudonym import Pseudonymiser, PseudonymKeyError

BAD_OPTION_EXIT_CODE = 2


def _bad(option: str, message: str) -> CommandError:
    return CommandError(f"{option}: {message}", returncode=BAD_OPTION_EXIT_CODE)


class Command(BaseCommand):
    help = "Export pseudonymised study data as CSV (zip), XLSX, JSON (cohort) or FHIR (NDJSON)."

    def add_arguments(self, parser):
        parser.add_argument("--format", required=True, help=" | ".join(FORMATS))
        parser.add_argument("--out", required=True, type=Path, help="file to write")
        parser.add_argument(
            "--key-file",
            type=Path,
            help="pseudonymisation key (at least 32 bytes): pseudonymise study numbers and "
            "shift dates",
        )

    def handle(self, *args, out: Path, key_file: Path | None, **options):
        fmt = options["format"]
        if fmt not in FORMATS:
            raise _bad("--format", f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
        folder = out.parent
        if out.is_dir():
            raise _bad("--out", f"{out} is a folder; give a file name")
        if not folder.is_dir():
            raise _bad("--out", f"folder {folder} does not exist")
        if not os.access(folder, os.W_OK):
            raise _bad("--out", f"folder {folder} is not writable")
        try:
            pseudonymiser = Pseudonymiser.from_key_file(key_file) if key_file else Pseudonymiser()
        except PseudonymKeyError as error:
            raise _bad("--key-file", str(error)) from None
        try:
            summary = write_export(fmt, out, pseudonymiser=pseudonymiser)
        except OSError as error:
            raise _bad("--out", f"cannot write {out}: {error.strerror or error}") from None
        audit.record(
            actor=None,
            actor_username="command line",
            action=AuditEvent.Action.EXPORT,
            detail=f"export_study {fmt}{' with key' if key_file else ''}: {out.name}, "
            f"sha256 {summary.sha256}",
        )
        counts = ", ".join(f"{table} {rows}" for table, rows in summary.rows.items())
        self.stdout.write(f"{fmt} export written to {out} ({counts}); sha256 {summary.sha256}")

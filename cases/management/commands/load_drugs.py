"""`python manage.py load_drugs [FILE]`: bring the drug catalogue up to date with drugs.csv.

Idempotent: rows equal to the stored drug change nothing; changed rows get a new version.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from advice.engine.catalogue import CATALOGUE_CSV, CatalogueError, read_catalogue
from cases import services
from cases.models import Drug
from cases.models.drugs import catalogue_field_values


class Command(BaseCommand):
    help = "Load or update the drug catalogue from drugs.csv (idempotent, versioned)."

    def add_arguments(self, parser):
        parser.add_argument("file", nargs="?", default=str(CATALOGUE_CSV), type=Path)

    def handle(self, *args, file: Path, **options):
        try:
            rows = list(read_catalogue(file))
        except (OSError, CatalogueError) as error:
            raise CommandError(str(error)) from None
        created = updated = 0
        with transaction.atomic():
            for facts in rows:
                values = catalogue_field_values(facts)
                drug = (
                    Drug.objects.filter(
                        name=values["name"], indication=values["indication"]
                    ).first()
                    or Drug()
                )
                is_new = drug.pk is None
                for field, value in values.items():
                    setattr(drug, field, value)
                _, changed = services.drug_save(actor=None, drug=drug, change_source="load_drugs")
                created += changed and is_new
                updated += changed and not is_new
        unchanged = len(rows) - created - updated
        self.stdout.write(f"drugs: {created} created, {updated} updated, {unchanged} unchanged")

"""Load the shipped drug catalogue (advice/engine/data/drugs.csv) as version 1 of every drug row."""

from django.db import migrations

from advice.engine.catalogue import read_catalogue
from cases.models.drugs import Drug as CurrentDrug
from cases.models.drugs import catalogue_field_values


def load_catalogue(apps, schema_editor):
    Drug = apps.get_model("cases", "Drug")
    DrugVersion = apps.get_model("cases", "DrugVersion")
    for facts in read_catalogue():
        values = catalogue_field_values(facts)
        drug = Drug.objects.create(**values, version=1)
        DrugVersion.objects.create(
            drug=drug,
            version=1,
            row=CurrentDrug(**values).as_row(),
            change_source="migration",
        )


class Migration(migrations.Migration):
    dependencies = [("cases", "0001_initial")]

    operations = [migrations.RunPython(load_catalogue, migrations.RunPython.noop)]

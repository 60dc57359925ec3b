"""The drug catalogue: shipped file → database, idempotent reload, admin edits versioned."""

import csv
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command

from advice.engine.catalogue import CATALOGUE_CSV, read_catalogue
from cases import services
from cases.models import AuditEvent, Drug, DrugVersion

pytestmark = pytest.mark.django_db


def test_shipped_catalogue_is_the_shared_file_unchanged():
    shared = CATALOGUE_CSV.parents[2].parent / "shared" / "data" / "drugs.csv"
    if shared.exists():
        assert shared.read_bytes() == CATALOGUE_CSV.read_bytes()
    with CATALOGUE_CSV.open(newline="") as handle:
        assert len(list(csv.DictReader(handle))) == 32


def test_migration_loads_every_row_as_version_one():
    assert Drug.objects.count() == 32
    assert DrugVersion.objects.filter(version=1).count() == 32
    for facts in read_catalogue():
        drug = Drug.objects.get(name=facts.drug, indication=facts.indication or "")
        assert drug.facts() == facts


def test_catalogue_values_survive_the_database_exactly():
    sorafenib = Drug.objects.get(name="sorafenib").facts()
    assert sorafenib.target_ng_ml == Decimal(3750)
    assert sorafenib.dose_levels_mg == tuple(Decimal(v) for v in range(200, 1700, 200))
    assert sorafenib.max_daily_dose_mg == Decimal(1600)
    assert sorafenib.min_hours_after_dose == Decimal(10)
    sunitinib = Drug.objects.get(name="sunitinib", indication="intermittent").facts()
    assert sunitinib.dose_levels_mg[1] == Decimal("37.5")
    assert (sunitinib.cycle_on_days, sunitinib.cycle_length_days) == (28, 42)
    assert Drug.objects.get(name="regorafenib").facts().extrapolation is False


def test_load_drugs_twice_changes_nothing():
    out = StringIO()
    call_command("load_drugs", stdout=out)
    call_command("load_drugs", stdout=out)
    assert out.getvalue().count("0 created, 0 updated, 32 unchanged") == 2
    assert DrugVersion.objects.count() == 32


def test_load_drugs_restores_an_edited_row_as_a_new_version():
    drug = Drug.objects.get(name="imatinib", indication="gist")
    drug.target_ng_ml = Decimal(1200)
    services.drug_save(actor=None, drug=drug, change_source="admin")
    call_command("load_drugs", stdout=StringIO())
    drug.refresh_from_db()
    assert drug.target_ng_ml == Decimal(1100)
    history = [(v.version, v.row["target_ng_ml"]) for v in drug.versions.order_by("version")]
    assert history == [
        (1, "1100"),
        (2, "1200"),
        (3, "1100"),
    ]


def test_admin_edit_is_versioned_and_audited(client, staff):
    admin = staff["admin"]
    client.force_login(admin)
    drug = Drug.objects.get(name="pazopanib")
    url = f"/admin/cases/drug/{drug.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data.update({"target_ng_ml": "20500", "notes": "Raised after local validation."})
    data.update({"versions-TOTAL_FORMS": "1", "versions-INITIAL_FORMS": "1"})
    data.update({"versions-MIN_NUM_FORMS": "0", "versions-MAX_NUM_FORMS": "1000"})
    data["versions-0-id"] = str(drug.versions.get().pk)
    data["versions-0-drug"] = str(drug.pk)
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    response = client.post(url, data)
    assert response.status_code == 302, response.content.decode()[:2000]
    drug.refresh_from_db()
    assert drug.version == 2
    assert drug.target_ng_ml == Decimal(20500)
    event = AuditEvent.objects.get(model="cases.drug", object_id=str(drug.pk), action="update")
    assert event.actor == admin
    assert event.before["target_ng_ml"] == "20000"
    assert event.after["target_ng_ml"] == "20500"


def test_admin_refuses_a_row_the_engine_cannot_use(client, staff):
    client.force_login(staff["admin"])
    drug = Drug.objects.get(name="afatinib")
    page = client.get(f"/admin/cases/drug/{drug.pk}/change/")
    form = page.context["adminform"].form
    data = {name: form[name].value() for name in form.fields}
    data = {k: ("" if v is None else v) for k, v in data.items()}
    data = {k: ("on" if v is True else v) for k, v in data.items() if v is not False}
    data["dose_levels_mg"] = "40;20;30"
    data.update({"versions-TOTAL_FORMS": "0", "versions-INITIAL_FORMS": "0"})
    response = client.post(f"/admin/cases/drug/{drug.pk}/change/", data)
    assert response.status_code == 200
    assert "levels must be unique and ascending" in response.content.decode()
    drug.refresh_from_db()
    assert drug.version == 1

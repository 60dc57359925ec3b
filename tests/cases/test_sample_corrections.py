"""Correcting a sample's times or result with a reason (docs/clinical-rules.md §1.3): what
changes, what is checked, who may, the audit trail and the signal; and the pages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from advice.engine.pk import IMPLAUSIBLE_VALUE, LAST_DOSE_MISSING, MISSED_DOSE
from cases import services, signals
from cases.errors import DuplicateSample, StateConflict
from cases.models import AuditEvent, Drug, Sample
from cases.services.samples import sample_correct
from tests.factories import (
    DoseRegimenFactory,
    SampleFactory,
    TreatmentFactory,
    hours_before,
    local_datetime,
)

pytestmark = pytest.mark.django_db

REASON = "last dose time read from the wrong day"


@pytest.fixture
def nurse(staff):
    return staff["nurse_a"]


@pytest.fixture
def treatment(nurse, site_a):
    """Sorafenib 600 mg/day BID from 2024-01-08, 800 mg/day from 2024-02-12."""
    treatment = TreatmentFactory(actor=nurse, patient__site=site_a)
    DoseRegimenFactory(actor=nurse, treatment=treatment, effective_from=datetime.date(2024, 2, 12))
    return treatment


@pytest.fixture
def sample(nurse, treatment):
    """Drawn 2024-02-05 09:00 at 600 mg/day, 2870 ng/mL; the last dose not recorded."""
    return SampleFactory(
        actor=nurse,
        treatment=treatment,
        drawn_at=local_datetime("2024-02-05 09:00"),
        last_dose_at=None,
        lab_accession="L-1",
    )


@pytest.fixture
def corrected_signals():
    sent = []

    def receive(sender, sample, actor, reason, **kwargs):
        sent.append((sample.pk, actor, reason))

    signals.sample_corrected.connect(receive)
    yield sent
    signals.sample_corrected.disconnect(receive)


def correct(actor, sample, reason=REASON, **fields):
    return sample_correct(actor=actor, sample=sample, reason=reason, **fields)


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict


# What changes -----------------------------------------------------------------------------------


def test_the_time_of_last_dose_is_corrected_and_the_sample_computed_again(
    nurse, sample, corrected_signals
):
    assert sample.not_evaluable_reasons == [LAST_DOSE_MISSING]

    result = correct(nurse, sample, last_dose_at=local_datetime("2024-02-04 21:00"))

    stored = Sample.objects.get(pk=sample.pk)
    assert stored.last_dose_at == local_datetime("2024-02-04 21:00")
    assert stored.hours_after_dose == 12
    assert stored.evaluable is True
    assert stored.estimated_ctrough_ng_ml == Decimal(2870)
    assert result.pk == sample.pk
    # The rest is as it was.
    assert stored.drawn_at == local_datetime("2024-02-05 09:00")
    assert stored.concentration == Decimal(2870)
    assert stored.lab_accession == "L-1"
    assert corrected_signals == [(sample.pk, nurse, REASON)]


def test_the_correction_is_audited_with_before_after_and_the_reason(nurse, sample):
    correct(nurse, sample, last_dose_at=local_datetime("2024-02-04 21:00"))

    event = AuditEvent.objects.filter(model="cases.sample", object_id=str(sample.pk)).first()
    assert event.action == AuditEvent.Action.UPDATE
    assert event.actor == nurse
    assert event.detail == f"corrected: {REASON}"
    assert event.before["last_dose_at"] is None
    assert event.before["evaluable"] is False
    assert event.after["evaluable"] is True
    assert datetime.datetime.fromisoformat(event.after["last_dose_at"]) == local_datetime(
        "2024-02-04 21:00"
    )


def test_a_result_is_corrected_in_its_unit(nurse, sample):
    result = correct(
        nurse,
        sample,
        last_dose_at=local_datetime("2024-02-04 21:00"),
        concentration=Decimal("3.1"),
        unit="mg/L",
    )

    assert result.concentration_ng_ml == Decimal(3100)
    assert result.estimated_ctrough_ng_ml == Decimal(3100)


def test_a_result_is_corrected_to_below_lloq(nurse, sample):
    result = correct(nurse, sample, concentration=None, below_lloq=True)

    assert result.below_lloq is True
    assert "below_lloq" in result.not_evaluable_reasons


def test_a_new_draw_day_copies_the_dose_of_that_day(nurse, sample):
    assert sample.daily_dose_mg == 600

    result = correct(
        nurse,
        sample,
        drawn_at=local_datetime("2024-02-13 09:00"),
        last_dose_at=local_datetime("2024-02-12 21:00"),
    )

    assert result.daily_dose_mg == 800


def test_the_summed_analytes_give_way_to_a_corrected_sum(staff, site_a):
    nurse = staff["nurse_a"]
    sunitinib = TreatmentFactory(
        actor=nurse,
        patient__site=site_a,
        drug=Drug.objects.get(name="sunitinib", indication="continuous"),
        daily_dose_mg=Decimal("37.5"),
        administrations_per_day=1,
    )
    sample = SampleFactory(
        actor=nurse,
        treatment=sunitinib,
        last_dose_at=hours_before(local_datetime("2024-02-05 09:00"), 24),
        concentration=None,
        analytes={"sunitinib": Decimal(30), "SU12662": Decimal(12)},
    )
    assert sample.concentration == 42

    result = correct(nurse, sample, concentration=Decimal(52))

    assert result.analytes == {}
    assert result.concentration == 52


# What is checked --------------------------------------------------------------------------------


def test_a_reason_is_required(nurse, sample):
    errors = refusal(lambda: correct(nurse, sample, reason="  ", concentration=Decimal(3000)))

    assert errors == {"reason": ["Say why the sample is corrected."]}


def test_a_reason_is_kept_whole_so_it_has_a_limit(nurse, sample):
    errors = refusal(lambda: correct(nurse, sample, reason="x" * 201, concentration=Decimal(3000)))

    assert errors == {"reason": ["At most 200 characters."]}
    correct(nurse, sample, reason="y" * 200, concentration=Decimal(3000))
    assert AuditEvent.objects.filter(detail=f"corrected: {'y' * 200}").exists()


def test_a_correction_that_changes_nothing_is_refused(nurse, sample):
    errors = refusal(lambda: correct(nurse, sample, concentration=Decimal("2870.0")))

    assert list(errors) == ["non_field_errors"]
    assert not AuditEvent.objects.filter(detail__startswith="corrected").exists()


def test_a_cancelled_sample_is_not_corrected(nurse, sample):
    services.sample_cancel(actor=nurse, sample=sample, reason="wrong patient")

    with pytest.raises(StateConflict):
        correct(nurse, sample, concentration=Decimal(3000))


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"drawn_at": timezone.now() + datetime.timedelta(hours=1)}, "drawn_at"),
        ({"drawn_at": local_datetime("2024-01-07 09:00")}, "drawn_at"),
        ({"last_dose_at": local_datetime("2024-02-05 10:00")}, "last_dose_at"),
        ({"concentration": Decimal(-1)}, "concentration"),
        ({"concentration": Decimal(0)}, "concentration"),
        ({"concentration": None}, "concentration"),
        ({"unit": "mmol/L"}, "unit"),
        ({"concentration": Decimal(99_999_999)}, "concentration"),
        ({"last_dose_at": local_datetime("2024-01-28 08:59")}, "last_dose_at"),
    ],
)
def test_the_corrected_values_are_checked_as_recording_checks_them(nurse, sample, fields, field):
    errors = refusal(lambda: correct(nurse, sample, **fields))

    assert list(errors) == [field]
    assert Sample.objects.get(pk=sample.pk).last_dose_at is None


def test_a_drawn_after_the_stop_is_refused(nurse, treatment, sample):
    services.treatment_stop(
        actor=nurse, treatment=treatment, stop_date=datetime.date(2024, 3, 1), reason="progression"
    )

    errors = refusal(lambda: correct(nurse, sample, drawn_at=local_datetime("2024-03-02 09:00")))

    assert errors == {"drawn_at": ["Drawn after the treatment stopped (2024-03-01)."]}


def test_an_implausible_corrected_value_needs_confirmation_and_carries_the_warning(nurse, sample):
    correct(nurse, sample, last_dose_at=local_datetime("2024-02-04 21:00"))

    result = correct(nurse, sample, concentration=Decimal(28_700_000), confirm_implausible=True)

    assert result.confirmed_implausible is True
    assert result.warnings == [IMPLAUSIBLE_VALUE]
    # Correcting the time afterwards keeps the confirmed value without asking again.
    later = correct(nurse, sample, last_dose_at=local_datetime("2024-02-04 21:30"))
    assert later.confirmed_implausible is True
    # Corrected to a plausible value, it is no longer marked.
    fixed = correct(nurse, sample, concentration=Decimal(2870))
    assert fixed.confirmed_implausible is False
    assert fixed.warnings == []


def test_a_last_dose_long_before_is_stored_when_confirmed_not_evaluable(nurse, sample):
    result = correct(
        nurse, sample, last_dose_at=local_datetime("2024-01-28 08:59"), confirm_implausible=True
    )

    assert result.confirmed_implausible is True
    assert MISSED_DOSE in result.not_evaluable_reasons


def test_a_corrected_draw_time_near_another_sample_is_a_duplicate(nurse, treatment, sample):
    other = SampleFactory(
        actor=nurse, treatment=treatment, drawn_at=local_datetime("2024-03-04 09:00")
    )

    with pytest.raises(DuplicateSample) as refused:
        correct(nurse, sample, drawn_at=local_datetime("2024-03-04 09:25"))

    assert refused.value.conflicting_sample == other.pk


def test_a_sample_moved_by_minutes_is_not_its_own_duplicate(nurse, sample):
    result = correct(nurse, sample, drawn_at=local_datetime("2024-02-05 09:10"))

    assert result.drawn_at == local_datetime("2024-02-05 09:10")


def test_the_result_of_a_drawn_sample_is_entered_not_corrected(nurse, treatment, corrected_signals):
    drawn = SampleFactory(
        actor=nurse,
        treatment=treatment,
        drawn_at=local_datetime("2024-03-04 09:00"),
        concentration=None,
    )

    errors = refusal(lambda: correct(nurse, drawn, concentration=Decimal(3000)))
    assert list(errors) == ["concentration"]
    moved = correct(nurse, drawn, drawn_at=local_datetime("2024-03-04 08:30"))

    assert moved.status == Sample.Status.DRAWN
    assert moved.drawn_at == local_datetime("2024-03-04 08:30")
    # No result, no advice to compute again.
    assert corrected_signals == []


def test_only_the_correctable_fields_are_taken(nurse, sample):
    with pytest.raises(TypeError, match="lab_accession"):
        correct(nurse, sample, lab_accession="L-2")


# Who may ----------------------------------------------------------------------------------------


def test_a_pharmacist_of_the_site_corrects(staff, sample):
    result = correct(staff["pharmacist_a"], sample, concentration=Decimal(3000))

    assert result.concentration == 3000


@pytest.mark.parametrize("username", ["physician_a", "datamanager_a", "nurse_b", "pharmacist_b"])
def test_others_may_not_correct(staff, sample, username):
    with pytest.raises(PermissionDenied):
        correct(staff[username], sample, concentration=Decimal(3000))

    assert Sample.objects.get(pk=sample.pk).concentration == 2870


# Pages ------------------------------------------------------------------------------------------


def page_body(sample, **changes) -> dict[str, str]:
    body = {
        "drawn_at": "2024-02-05T09:00",
        "last_dose_at": "",
        "concentration": "2870",
        "unit": "ng/mL",
        "reason": REASON,
    }
    body.update(changes)
    return body


def test_the_correction_form_holds_the_current_values(client, nurse, sample):
    client.force_login(nurse)

    page = client.get(f"/samples/{sample.pk}/correct/").content.decode()

    assert 'value="2024-02-05T09:00"' in page
    assert 'value="2870"' in page
    assert "Reason for the correction" in page
    assert 'type="hidden" name="confirm_implausible"' in page


def test_the_page_corrects_only_what_was_changed(api, client, nurse, treatment):
    # Logged through the API to the second: a field left as it was keeps its seconds.
    answer = api("nurse_a").post(
        "/api/v1/samples/",
        {"treatment": treatment.pk, "drawn_at": "2024-02-05T09:00:40+01:00", "concentration": 2870},
        format="json",
    )
    sample = Sample.objects.get(pk=answer.json()["id"])
    client.force_login(nurse)

    saved = client.post(
        f"/samples/{sample.pk}/correct/", page_body(sample, last_dose_at="2024-02-04T21:00")
    )

    assert saved.status_code == 302
    assert saved["Location"] == f"/samples/{sample.pk}/"
    sample.refresh_from_db()
    assert sample.last_dose_at == local_datetime("2024-02-04 21:00")
    assert sample.drawn_at.second == 40


def test_the_sample_page_shows_the_correction_history(client, staff, sample):
    correct(staff["pharmacist_a"], sample, last_dose_at=local_datetime("2024-02-04 21:00"))
    client.force_login(staff["physician_a"])

    page = client.get(f"/samples/{sample.pk}/").content.decode()

    assert "Corrections" in page
    assert "pharmacist_a" in page
    assert REASON in page
    assert "last dose: — → 2024-02-04 21:00" in page
    # The physician reads it but is offered no correction.
    assert f"/samples/{sample.pk}/correct/" not in page


@pytest.mark.parametrize("username", ["nurse_a", "pharmacist_a"])
def test_the_sample_page_offers_the_correction(client, staff, sample, username):
    client.force_login(staff[username])

    page = client.get(f"/samples/{sample.pk}/").content.decode()

    assert f'href="/samples/{sample.pk}/correct/"' in page
    assert "Correct the sample" in page


@pytest.mark.parametrize("method", ["get", "post"])
def test_a_physician_gets_403_on_the_correction_page(client, staff, sample, method):
    client.force_login(staff["physician_a"])

    answer = getattr(client, method)(f"/samples/{sample.pk}/correct/", page_body(sample))

    assert answer.status_code == 403


def test_the_correction_page_shows_the_refusals(client, nurse, sample):
    client.force_login(nurse)
    url = f"/samples/{sample.pk}/correct/"

    no_reason = client.post(url, page_body(sample, concentration="3000", reason=""))
    assert no_reason.status_code == 400
    assert "Say why the sample is corrected." in no_reason.content.decode()
    unchanged = client.post(url, page_body(sample))
    assert unchanged.status_code == 400
    assert "nothing to correct" in unchanged.content.decode()
    implausible = client.post(url, page_body(sample, concentration="28700000"))
    assert implausible.status_code == 400
    assert 'type="checkbox" name="confirm_implausible"' in implausible.content.decode()
    confirmed = client.post(
        url, page_body(sample, concentration="28700000", confirm_implausible="on")
    )
    assert confirmed.status_code == 302
    assert Sample.objects.get(pk=sample.pk).confirmed_implausible is True


def test_the_correction_page_names_a_duplicate_with_a_link(client, nurse, treatment, sample):
    other = SampleFactory(
        actor=nurse, treatment=treatment, drawn_at=local_datetime("2024-03-04 09:00")
    )
    client.force_login(nurse)

    answer = client.post(
        f"/samples/{sample.pk}/correct/", page_body(sample, drawn_at="2024-03-04T09:15")
    )

    assert answer.status_code == 409
    assert f'href="/samples/{other.pk}/"' in answer.content.decode()


def test_a_cancelled_sample_has_no_correction_page(client, nurse, sample):
    services.sample_cancel(actor=nurse, sample=sample, reason="wrong patient")
    client.force_login(nurse)

    answer = client.get(f"/samples/{sample.pk}/correct/", follow=True)

    assert answer.redirect_chain == [(f"/samples/{sample.pk}/", 302)]
    assert "A cancelled sample cannot be corrected." in answer.content.decode()


def test_a_drawn_sample_is_corrected_without_result_fields(client, nurse, treatment):
    drawn = SampleFactory(
        actor=nurse,
        treatment=treatment,
        drawn_at=local_datetime("2024-03-04 09:00"),
        concentration=None,
    )
    client.force_login(nurse)

    page = client.get(f"/samples/{drawn.pk}/correct/").content.decode()

    assert 'name="drawn_at"' in page
    assert 'name="concentration"' not in page

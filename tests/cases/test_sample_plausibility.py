"""A result outside the drug's plausible range, or a last dose more than 7 days before the draw,
is stored only when confirmed (docs/clinical-rules.md §1.1): service, advice and pages."""

from __future__ import annotations

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from advice.engine.pk import IMPLAUSIBLE_VALUE, MISSED_DOSE
from advice.models import Advice
from cases import services
from cases.models import Sample
from tests.factories import SampleFactory, TreatmentFactory, hours_before, local_datetime

pytestmark = pytest.mark.django_db

DRAWN = "2024-03-04 09:00"


@pytest.fixture
def nurse(staff):
    return staff["nurse_a"]


@pytest.fixture
def treatment(nurse, site_a):
    """Sorafenib 600 mg/day BID from 2024-01-08: plausible 37 to 180000 ng/mL."""
    return TreatmentFactory(actor=nurse, patient__site=site_a)


def record(nurse, treatment, **fields):
    drawn_at = fields.pop("drawn_at", local_datetime(DRAWN))
    values = {"last_dose_at": hours_before(drawn_at, 12), "concentration": Decimal(2870)}
    values.update(fields)
    return services.sample_record(actor=nurse, treatment=treatment, drawn_at=drawn_at, **values)


def refusal(call) -> dict[str, list[str]]:
    with pytest.raises(ValidationError) as refused:
        call()
    return refused.value.message_dict


# Recording --------------------------------------------------------------------------------------


def test_the_value_of_the_issue_is_refused_naming_the_range(nurse, treatment):
    errors = refusal(lambda: record(nurse, treatment, concentration=Decimal(99_999_999)))

    assert list(errors) == ["concentration"]
    assert (
        "99999999 ng/mL is outside the plausible range of sorafenib" in errors["concentration"][0]
    )
    assert "37 to 180000 ng/mL" in errors["concentration"][0]
    assert not Sample.objects.filter(treatment=treatment).exists()


def test_a_confirmed_value_is_stored_marked_and_estimated_with_the_warning(nurse, treatment):
    sample = record(nurse, treatment, concentration=Decimal(200_000), confirm_implausible=True)

    sample.refresh_from_db()
    assert sample.confirmed_implausible is True
    assert sample.evaluable is True
    assert sample.estimated_ctrough_ng_ml == Decimal(200_000)
    assert sample.warnings == [IMPLAUSIBLE_VALUE]


def test_the_advice_of_a_confirmed_value_carries_the_warning(
    nurse, treatment, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        sample = record(nurse, treatment, concentration=Decimal(20), confirm_implausible=True)

    advice = Advice.objects.get(sample=sample)
    assert IMPLAUSIBLE_VALUE in advice.warnings


def test_a_plausible_value_is_not_marked(nurse, treatment):
    sample = record(nurse, treatment, confirm_implausible=True)

    assert sample.confirmed_implausible is False
    assert IMPLAUSIBLE_VALUE not in sample.warnings


@pytest.mark.parametrize(
    ("concentration", "unit", "plausible"),
    [
        # µg/mL and mg/L are × 1000: the bounds 37 and 180000 ng/mL in other units.
        ("180", "mg/L", True),
        ("180.01", "µg/mL", False),
        ("0.037", "µg/mL", True),
        ("0.0369", "mg/L", False),
        ("3.75", "ng/mL", False),  # 3.75 µg/mL typed as ng/mL
        # nmol/L × 464.8 / 1000 for sorafenib.
        ("10000", "nmol/L", True),
        ("1.2345", "nmol/L", False),
    ],
)
def test_the_range_is_compared_in_ng_per_ml(nurse, treatment, concentration, unit, plausible):
    def save():
        return record(nurse, treatment, concentration=Decimal(concentration), unit=unit)

    if plausible:
        assert save().confirmed_implausible is False
    else:
        assert list(refusal(save)) == ["concentration"]


def test_the_message_shows_a_converted_value_in_ng_per_ml(nurse, treatment):
    errors = refusal(
        lambda: record(nurse, treatment, concentration=Decimal("1.2345"), unit="nmol/L")
    )

    assert errors["concentration"][0].startswith("1.2345 nmol/L (= 0.5738 ng/mL) is outside")


def test_a_result_below_lloq_is_never_implausible(nurse, treatment):
    sample = record(nurse, treatment, concentration=Decimal("0.5"), below_lloq=True)

    assert sample.confirmed_implausible is False
    assert sample.warnings == []


def test_above_one_gram_per_millilitre_is_refused_even_confirmed(nurse, treatment):
    errors = refusal(
        lambda: record(
            nurse,
            treatment,
            concentration=Decimal(2_000_000),
            unit="mg/L",
            confirm_implausible=True,
        )
    )

    assert "above 1 g/mL" in errors["concentration"][0]


def test_a_draw_time_in_the_future_is_refused_on_drawn_at(nurse, treatment):
    future = timezone.localtime() + datetime.timedelta(hours=1)

    errors = refusal(lambda: record(nurse, treatment, drawn_at=future, confirm_implausible=True))

    assert errors == {"drawn_at": ["The draw time is in the future."]}


def test_a_last_dose_more_than_7_days_before_needs_confirmation(nurse, treatment):
    drawn_at = local_datetime(DRAWN)
    last_dose = drawn_at - datetime.timedelta(days=7, minutes=1)

    errors = refusal(lambda: record(nurse, treatment, drawn_at=drawn_at, last_dose_at=last_dose))

    assert list(errors) == ["last_dose_at"]
    assert "7.0 days before the draw, more than 7" in errors["last_dose_at"][0]
    sample = record(
        nurse, treatment, drawn_at=drawn_at, last_dose_at=last_dose, confirm_implausible=True
    )
    assert sample.confirmed_implausible is True
    assert sample.evaluable is False
    assert MISSED_DOSE in sample.not_evaluable_reasons
    # The reason says it; the value itself is plausible.
    assert IMPLAUSIBLE_VALUE not in sample.warnings


def test_a_last_dose_exactly_7_days_before_is_accepted_and_not_evaluable(nurse, treatment):
    drawn_at = local_datetime(DRAWN)

    sample = record(
        nurse, treatment, drawn_at=drawn_at, last_dose_at=drawn_at - datetime.timedelta(days=7)
    )

    assert sample.confirmed_implausible is False
    assert sample.not_evaluable_reasons == [MISSED_DOSE]


# Entering the result later ----------------------------------------------------------------------


def test_a_result_entered_later_is_checked_the_same_way(nurse, treatment):
    drawn = record(nurse, treatment, concentration=None)

    errors = refusal(
        lambda: services.sample_result(actor=nurse, sample=drawn, concentration=Decimal(20))
    )
    assert list(errors) == ["concentration"]
    resulted = services.sample_result(
        actor=nurse, sample=drawn, concentration=Decimal(20), confirm_implausible=True
    )

    resulted.refresh_from_db()
    assert resulted.confirmed_implausible is True
    assert resulted.warnings == [IMPLAUSIBLE_VALUE]


def test_a_confirmed_long_gap_stays_marked_when_the_result_follows(nurse, treatment):
    drawn_at = local_datetime(DRAWN)
    drawn = record(
        nurse,
        treatment,
        drawn_at=drawn_at,
        last_dose_at=drawn_at - datetime.timedelta(days=9),
        concentration=None,
        confirm_implausible=True,
    )

    resulted = services.sample_result(actor=nurse, sample=drawn, concentration=Decimal(2870))

    assert resulted.confirmed_implausible is True


# Pages ------------------------------------------------------------------------------------------


def test_the_sample_form_offers_the_confirmation_only_once_it_refused(client, nurse, treatment):
    client.force_login(nurse)
    url = f"/treatments/{treatment.pk}/samples/new/"
    body = {
        "drawn_at": "2024-03-04T09:00",
        "last_dose_at": "2024-03-03T21:00",
        "concentration": "99999999",
        "unit": "ng/mL",
    }

    first = client.get(url).content.decode()
    assert 'type="hidden" name="confirm_implausible"' in first
    refused = client.post(url, body)
    page = refused.content.decode()
    assert refused.status_code == 400
    assert "outside the plausible range of sorafenib, 37 to 180000 ng/mL" in page
    assert 'type="checkbox" name="confirm_implausible"' in page
    assert "I have checked it: store the value or time outside the plausible range" in page
    assert not Sample.objects.filter(treatment=treatment).exists()

    saved = client.post(url, {**body, "confirm_implausible": "on"})

    assert saved.status_code == 302
    assert Sample.objects.get(treatment=treatment).confirmed_implausible is True


def test_the_preview_names_the_range(client, nurse, treatment):
    client.force_login(nurse)

    preview = client.post(
        f"/treatments/{treatment.pk}/samples/preview/",
        {"drawn_at": "2024-03-04T09:00", "concentration": "3.75", "unit": "ng/mL"},
    )

    assert preview.status_code == 200
    assert "outside the plausible range of sorafenib" in preview.content.decode()


def test_the_result_form_offers_the_confirmation(client, nurse, treatment):
    drawn = SampleFactory(actor=nurse, treatment=treatment, concentration=None)
    client.force_login(nurse)
    url = f"/samples/{drawn.pk}/result/"

    refused = client.post(url, {"concentration": "500000", "unit": "ng/mL"})
    assert refused.status_code == 400
    assert 'type="checkbox" name="confirm_implausible"' in refused.content.decode()
    saved = client.post(
        url, {"concentration": "500000", "unit": "ng/mL", "confirm_implausible": "on"}
    )

    assert saved.status_code == 302
    drawn.refresh_from_db()
    assert drawn.confirmed_implausible is True


def test_the_sample_page_says_a_value_was_confirmed(client, nurse, treatment):
    sample = record(nurse, treatment, concentration=Decimal(20), confirm_implausible=True)
    client.force_login(nurse)

    page = client.get(f"/samples/{sample.pk}/").content.decode()

    assert "outside the plausible range" in page
    assert "value outside the drug&#x27;s plausible range, confirmed by the user" in page

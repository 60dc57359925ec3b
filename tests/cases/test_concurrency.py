"""Races the database must settle (PostgreSQL): two physicians sign the same advice at once."""

import threading

import pytest
from django.db import connection

from advice import services as advice_services
from advice.models import Advice
from cases.models import DoseRegimen
from tests.conftest import DEMO_PASSWORD, api_client_for, make_user

pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)


def test_two_concurrent_accepts_one_wins_the_other_gets_409(
    postgresql, staff, case_at, django_capture_on_commit_callbacks, site_a
):
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    second_physician = make_user("physician_a2", "physician", site_a)
    signers = [staff["physician_a"], second_physician]
    barrier = threading.Barrier(len(signers))
    statuses: list[int] = []

    def accept(user):
        client = api_client_for(user)
        try:
            barrier.wait(timeout=10)
            response = client.post(
                f"/api/v1/advice/{advice.pk}/accept/",
                {"password": DEMO_PASSWORD, "checks_confirmed": advice.checks},
                format="json",
            )
            statuses.append(response.status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=accept, args=(user,)) for user in signers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert sorted(statuses) == [200, 409]
    assert DoseRegimen.objects.filter(advice=advice).count() == 1
    advice.refresh_from_db()
    assert advice.state == Advice.State.ACCEPTED
    assert advice.decided_by in signers


@pytest.mark.parametrize("round_", range(3))
def test_an_accept_and_a_cancellation_of_its_sample_at_once_never_deadlock(
    postgresql, staff, case_at, django_capture_on_commit_callbacks, round_
):
    """Both lock the treatment before the advice: whichever comes first wins, the other waits
    (a signed advice stays signed; a superseded one answers 409), never a deadlock's 500."""
    with django_capture_on_commit_callbacks(execute=True):
        case = case_at("a", study_number=f"TDM-R{round_}", adverse_event=False)
    advice = Advice.objects.get(sample=case["sample"])
    advice_services.advice_release(actor=staff["pharmacist_a"], advice=advice)
    barrier = threading.Barrier(2)
    answers: dict[str, int] = {}

    def post(name, user, path, body):
        client = api_client_for(user)
        try:
            barrier.wait(timeout=10)
            answers[name] = client.post(path, body, format="json").status_code
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=post,
            args=(
                "accept",
                staff["physician_a"],
                f"/api/v1/advice/{advice.pk}/accept/",
                {"password": DEMO_PASSWORD, "checks_confirmed": advice.checks},
            ),
        ),
        threading.Thread(
            target=post,
            args=(
                "cancel",
                staff["nurse_a"],
                f"/api/v1/samples/{case['sample'].pk}/cancel/",
                {"reason": "wrong patient's tube"},
            ),
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert answers["cancel"] == 200
    advice.refresh_from_db()
    if answers["accept"] == 200:
        assert advice.state == Advice.State.ACCEPTED
    else:
        assert (answers["accept"], advice.state) == (409, Advice.State.SUPERSEDED)

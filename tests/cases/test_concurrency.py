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

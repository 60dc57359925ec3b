"""The permissions every API request checks are read with the user's roles and sites, in one
query kept for the request (cases.access.RoleModelBackend), and are Django's model backend's."""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend
from django.contrib.auth.models import Permission

from cases.access import RoleModelBackend
from tests.conftest import api_client_for

User = get_user_model()


def fresh(user):
    """The user as the next request loads it: nothing cached on it yet."""
    return User.objects.get(pk=user.pk)


@pytest.mark.parametrize("name", ["nurse_a", "pharmacist_b", "datamanager_a", "admin"])
def test_every_role_has_the_permissions_the_model_backend_gives(staff, name):
    user = staff[name]
    for part in ("get_user_permissions", "get_group_permissions", "get_all_permissions"):
        assert getattr(RoleModelBackend(), part)(fresh(user)) == getattr(ModelBackend(), part)(
            fresh(user)
        ), part


def test_a_permission_given_to_the_user_counts_from_the_next_request(staff):
    nurse = staff["nurse_a"]
    assert not fresh(nurse).has_perm("cases.view_auditevent")
    nurse.user_permissions.add(Permission.objects.get(codename="view_auditevent"))
    assert fresh(nurse).has_perm("cases.view_auditevent")
    assert fresh(nurse).get_user_permissions() == {"cases.view_auditevent"}


def test_the_permissions_are_read_once_with_the_roles_and_sites(staff, django_assert_num_queries):
    nurse = fresh(staff["nurse_a"])
    with django_assert_num_queries(1):
        assert nurse.has_perm("cases.view_treatment")
        assert not nurse.has_perm("advice.sign_advice")
        assert nurse.get_all_permissions() >= {"cases.add_sample"}


def test_an_inactive_user_has_no_permission(staff):
    nurse = fresh(staff["nurse_a"])
    nurse.is_active = False
    assert RoleModelBackend().get_all_permissions(nurse) == set()
    assert not nurse.has_perm("cases.view_treatment")


def test_the_api_refuses_a_role_without_the_permission_and_serves_one_with_it(staff):
    nurse = staff["nurse_a"]
    assert api_client_for(fresh(nurse)).get("/api/v1/treatments/").status_code == 200
    assert api_client_for(fresh(staff["admin"])).get("/api/v1/treatments/").status_code == 200
    nurse.groups.clear()
    assert api_client_for(fresh(nurse)).get("/api/v1/treatments/").status_code == 403

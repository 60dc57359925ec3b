"""Who sees which records: site membership and the roles of `cases.roles`.

The roles and member sites are read together in one query and cached on the user object, which
lives for one request (or one task): a page that scopes several querysets asks the database
once, and a membership or group changed by anyone takes effect on the user's next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from django.db.models import CharField, F, IntegerField, Value

from cases.roles import ALL_SITES_ROLES, CLINICAL_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from cases.models import Patient

    AnyUser = AbstractBaseUser | AnonymousUser


def _resolve(user: AnyUser) -> tuple[frozenset[str], frozenset[int]]:
    """The user's role names and member site ids, read in one query the first time a request
    asks and kept on the user object, which lives for that one request (docs/access.md)."""
    cached = getattr(user, "_tdm_access", None)
    if cached is None:
        from django.contrib.auth.models import Group

        from cases.models import SiteMembership

        role_rows = (
            Group.objects.filter(user=user)
            .annotate(role_name=F("name"), member_site=Value(None, output_field=IntegerField()))
            .values_list("role_name", "member_site")
        )
        site_rows = (
            SiteMembership.objects.filter(user=user)
            .annotate(role_name=Value(None, output_field=CharField()), member_site=F("site_id"))
            .values_list("role_name", "member_site")
        )
        rows = list(role_rows.union(site_rows, all=True))
        cached = (
            frozenset(role for role, _ in rows if role is not None),
            frozenset(site for _, site in rows if site is not None),
        )
        user._tdm_access = cached
    return cached


def user_roles(user: AnyUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return _resolve(user)[0]


def member_site_ids(user: AnyUser) -> frozenset[int]:
    """The sites the user works at (their memberships), whatever their role."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return _resolve(user)[1]


def sees_all_sites(user: AnyUser) -> bool:
    return bool(user.is_authenticated and user.is_active) and (
        user.is_superuser or bool(user_roles(user) & ALL_SITES_ROLES)
    )


def visible_site_ids(user: AnyUser) -> frozenset[int] | None:
    """Sites whose records the user may read; None means every site."""
    if sees_all_sites(user):
        return None
    return member_site_ids(user)


def is_clinical_user(user: AnyUser) -> bool:
    return bool(user_roles(user) & CLINICAL_ROLES)


def sees_identity(user: AnyUser, patient: Patient) -> bool:
    """Names and record numbers are for clinical users of the patient's own site only."""
    return is_clinical_user(user) and patient.site_id in member_site_ids(user)


def works_at(user: AnyUser, site_id: int) -> bool:
    """May the user create or change records at this site (clinical work happens on site)."""
    return site_id in member_site_ids(user)

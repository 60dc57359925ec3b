"""Who sees which records: site membership and the roles of `cases.roles`.

Results are cached on the user object, which lives for one request (or one task), so a page
that scopes several querysets asks the database once.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from cases.roles import ALL_SITES_ROLES, CLINICAL_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from cases.models import Patient

    AnyUser = AbstractBaseUser | AnonymousUser


def user_roles(user: AnyUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_tdm_roles", None)
    if cached is None:
        cached = frozenset(user.groups.values_list("name", flat=True))
        user._tdm_roles = cached
    return cached


def member_site_ids(user: AnyUser) -> frozenset[int]:
    """The sites the user works at (their memberships), whatever their role."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    cached = getattr(user, "_tdm_member_site_ids", None)
    if cached is None:
        cached = frozenset(user.site_memberships.values_list("site_id", flat=True))
        user._tdm_member_site_ids = cached
    return cached


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

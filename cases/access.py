"""Who sees which records: site membership and the roles of `cases.roles`.

The roles, member sites and permissions are read together in one query and cached on the user
object, which lives for one request (or one task): a page that scopes several querysets and
checks the role's permissions asks the database once, and a membership, group or permission
changed by anyone takes effect on the user's next request.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, NamedTuple

from django.contrib.auth.backends import ModelBackend
from django.db import connection

from cases.roles import ALL_SITES_ROLES, CLINICAL_ROLES

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser

    from cases.models import Patient

    AnyUser = AbstractBaseUser | AnonymousUser


class _Access(NamedTuple):
    roles: frozenset[str]
    site_ids: frozenset[int]
    user_permissions: frozenset[str]
    group_permissions: frozenset[str]


# Read on every request, so a fixed statement rather than one the ORM builds anew each time
# (building it costs about as much as running it). The tables are those of Django's auth app for
# its default user model, and cases.SiteMembership's.
_ACCESS_SQL = """
SELECT 'role', g.name, NULL FROM auth_group g
  JOIN auth_user_groups ug ON ug.group_id = g.id WHERE ug.user_id = %s
UNION ALL
SELECT 'site', NULL, m.site_id FROM cases_sitemembership m WHERE m.user_id = %s
UNION ALL
SELECT 'user', t.app_label || '.' || p.codename, NULL FROM auth_permission p
  JOIN django_content_type t ON t.id = p.content_type_id
  JOIN auth_user_user_permissions up ON up.permission_id = p.id WHERE up.user_id = %s
UNION ALL
SELECT 'group', t.app_label || '.' || p.codename, NULL FROM auth_permission p
  JOIN django_content_type t ON t.id = p.content_type_id
  JOIN auth_group_permissions gp ON gp.permission_id = p.id
  JOIN auth_user_groups ug ON ug.group_id = gp.group_id WHERE ug.user_id = %s
"""


def _resolve(user: AnyUser) -> _Access:
    """The user's role names, member site ids and permissions (`app_label.codename`, their own
    and their groups'), read in one query the first time a request asks and kept on the user
    object, which lives for that one request (docs/access.md)."""
    cached = getattr(user, "_tdm_access", None)
    if cached is None:
        with connection.cursor() as cursor:
            cursor.execute(_ACCESS_SQL, [user.pk] * 4)
            rows = cursor.fetchall()

        def names(kind: str) -> frozenset[str]:
            return frozenset(name for found, name, _ in rows if found == kind)

        cached = _Access(
            roles=names("role"),
            site_ids=frozenset(site for found, _, site in rows if found == "site"),
            user_permissions=names("user"),
            group_permissions=names("group"),
        )
        user._tdm_access = cached
    return cached


class RoleModelBackend(ModelBackend):
    """Django's model backend, the permissions of an active user read with their roles and
    sites (`_resolve`) instead of in two queries of their own; a superuser's are all of them."""

    def _reads_resolved(self, user_obj, obj) -> bool:
        return (
            user_obj.is_active
            and not user_obj.is_anonymous
            and not user_obj.is_superuser
            and obj is None
        )

    def get_user_permissions(self, user_obj, obj=None):
        if self._reads_resolved(user_obj, obj):
            return set(_resolve(user_obj).user_permissions)
        return super().get_user_permissions(user_obj, obj)

    def get_group_permissions(self, user_obj, obj=None):
        if self._reads_resolved(user_obj, obj):
            return set(_resolve(user_obj).group_permissions)
        return super().get_group_permissions(user_obj, obj)


def user_roles(user: AnyUser) -> frozenset[str]:
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return _resolve(user).roles


def member_site_ids(user: AnyUser) -> frozenset[int]:
    """The sites the user works at (their memberships), whatever their role."""
    if not user.is_authenticated or not user.is_active:
        return frozenset()
    return _resolve(user).site_ids


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

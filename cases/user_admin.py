"""The admin of users and their sites, without the stock escape hatches (docs/access.md).

A user with the admin role manages accounts, roles and site memberships; only a superuser grants
or removes superuser or staff status, gives permissions outside the roles, sets another user's
password or changes a superuser. An attempt past these rules answers 403 and is audited, and
every change of a user or of a site's members is audited with its before and after.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.db import transaction

from cases import audit
from cases.models import AuditEvent, Site, SiteMembership

# The fields that make a user more than the roles allow; only a superuser sets them.
PRIVILEGED_FIELDS = ("is_superuser", "is_staff", "user_permissions")


def user_snapshot(user: User) -> dict[str, Any]:
    """What an audit event keeps of a user: never the password, only whether one is usable."""
    return {
        "username": user.username,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email": user.email,
        "is_active": user.is_active,
        "is_staff": user.is_staff,
        "is_superuser": user.is_superuser,
        "usable_password": user.has_usable_password(),
        "roles": sorted(user.groups.values_list("name", flat=True)),
        "sites": sorted(user.site_memberships.values_list("site__code", flat=True)),
        "permissions": sorted(
            f"{app}.{codename}"
            for app, codename in user.user_permissions.values_list(
                "content_type__app_label", "codename"
            )
        ),
    }


def site_members(site: Site) -> dict[str, Any]:
    return {
        "code": site.code,
        "name": site.name,
        "members": sorted(site.memberships.values_list("user__username", flat=True)),
    }


def refuse(request, user: User | None, what: str) -> None:
    """Audit the attempt, in its own transaction (the 403 undoes nothing else), and refuse."""
    with transaction.atomic():
        audit.record(
            actor=request.user,
            action=AuditEvent.Action.REFUSED,
            instance=user,
            after={},
            detail=what,
        )
    raise PermissionDenied(what)


class AuditedChanges:
    """A model admin whose every save is audited with `audit_snapshot` of the record before and
    after, its inlines (roles, memberships) included."""

    def audit_snapshot(self, obj) -> dict[str, Any]:
        raise NotImplementedError

    def save_model(self, request, obj, form, change) -> None:
        form.audit_before = (
            self.audit_snapshot(type(obj).objects.get(pk=obj.pk)) if change else None
        )
        super().save_model(request, obj, form, change)

    def save_related(self, request, form, formsets, change) -> None:
        super().save_related(request, form, formsets, change)
        audit.record(
            actor=request.user,
            action=AuditEvent.Action.UPDATE if change else AuditEvent.Action.CREATE,
            instance=form.instance,
            before=form.audit_before,
            after=self.audit_snapshot(form.instance),
        )


class UserSiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 1
    fk_name = "user"


class TdmUserAdmin(AuditedChanges, UserAdmin):
    """Users with their sites; roles are the groups of `cases.roles`."""

    inlines = [UserSiteMembershipInline]

    def audit_snapshot(self, obj) -> dict[str, Any]:
        return user_snapshot(obj)

    def has_change_permission(self, request, obj=None) -> bool:
        if obj is not None and obj.is_superuser and not request.user.is_superuser:
            return False
        return super().has_change_permission(request, obj)

    def get_readonly_fields(self, request, obj=None):
        readonly = super().get_readonly_fields(request, obj)
        if request.user.is_superuser:
            return readonly
        return (*readonly, *PRIVILEGED_FIELDS)

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and not request.user.is_superuser:
            tried = [field for field in PRIVILEGED_FIELDS if field in request.POST]
            if tried:
                user = User.objects.filter(pk=object_id).first() if object_id else None
                refuse(request, user, f"only a superuser sets {', '.join(tried)}")
        return super().changeform_view(request, object_id, form_url, extra_context)

    def user_change_password(self, request, id, form_url=""):
        user = User.objects.filter(pk=id).first()
        if not request.user.is_superuser:
            refuse(request, user, "only a superuser sets another user's password")
        response = super().user_change_password(request, id, form_url)
        if request.method == "POST" and response.status_code == 302 and user is not None:
            audit.record(
                actor=request.user,
                action=AuditEvent.Action.UPDATE,
                instance=user,
                after={},
                detail="password set",
            )
        return response


class SiteMembershipInline(admin.TabularInline):
    model = SiteMembership
    extra = 1
    autocomplete_fields = ["user"]


class SiteAdmin(AuditedChanges, admin.ModelAdmin):
    """Sites with their members; a change of either is audited with its before and after."""

    list_display = ["code", "name"]
    search_fields = ["code", "name"]
    inlines = [SiteMembershipInline]

    def audit_snapshot(self, obj) -> dict[str, Any]:
        return site_members(obj)

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

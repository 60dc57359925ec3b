"""API permissions: the role's model permissions, checked on every request."""

from __future__ import annotations

from rest_framework.permissions import DjangoModelPermissions


class RolePermissions(DjangoModelPermissions):
    """Model permissions of the user's role groups (`cases.roles`), reading included.

    Which records the user sees is the queryset's business (`visible_to`); this decides only
    whether the user's role may read, create or change that kind of record at all.
    """

    perms_map = {
        **DjangoModelPermissions.perms_map,
        "GET": ["%(app_label)s.view_%(model_name)s"],
        "HEAD": ["%(app_label)s.view_%(model_name)s"],
    }

    def _queryset(self, view):
        # Only its model names the permission: the scoped queryset is built once, by the view.
        queryset = getattr(view, "queryset", None)
        return queryset if queryset is not None else super()._queryset(view)


class ViewPermission(RolePermissions):
    """Only the `view` permission, whatever the method: for actions whose service checks the
    finer permission itself (releasing and signing advice)."""

    def get_required_permissions(self, method, model_cls):
        return super().get_required_permissions("GET", model_cls)

"""Pieces every clinical model shares: site scoping and timestamps."""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from django.db import models

if TYPE_CHECKING:
    from django.contrib.auth.models import AbstractBaseUser, AnonymousUser


class SiteScopedQuerySet(models.QuerySet):
    """The one way records are narrowed to what a user may see (docs/access.md).

    Every page and API endpoint starts from `Model.objects.visible_to(user)`; records of other
    sites are simply absent, so looking one up answers 404 without revealing it exists.
    """

    def visible_to(self, user: AbstractBaseUser | AnonymousUser) -> SiteScopedQuerySet:
        from cases.access import visible_site_ids

        site_ids = visible_site_ids(user)
        if site_ids is None:
            return self.all()
        return self.filter(**{f"{self.model.site_lookup}__in": site_ids})


class SiteScopedModel(models.Model):
    """A record that belongs to one site through `site_lookup` (a field path to Site)."""

    site_lookup: ClassVar[str]

    objects = SiteScopedQuerySet.as_manager()

    class Meta:
        abstract = True


class TimestampedModel(models.Model):
    created_at = models.DateTimeField(auto_now_add=True, editable=False)
    updated_at = models.DateTimeField(auto_now=True, editable=False)

    class Meta:
        abstract = True

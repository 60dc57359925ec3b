"""What every API resource shares: site-scoped reads, writes through one service, id filters.

The router serves every action with a format suffix as well (`/samples/7/result.json`), so
each action takes the `format` argument it is called with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import django_filters
import django_filters.fields
from django import forms
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response

from cases.api.fields import OUT_OF_RANGE, in_utc
from cases.api.permissions import RolePermissions


class ScopedViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """List and detail of the records the user may see; `create` parses, then calls a service."""

    permission_classes = [IsAuthenticated, RolePermissions]
    input_serializer_class: type[serializers.Serializer]
    create_service: Callable[..., Any]

    def get_queryset(self):
        return self.queryset.visible_to(self.request.user)

    def create(self, request, *args, **kwargs):
        serializer = self.input_serializer_class(
            data=request.data, context=self.get_serializer_context()
        )
        serializer.is_valid(raise_exception=True)
        created = type(self).create_service(actor=request.user, **serializer.validated_data)
        instance = self.get_queryset().get(pk=created.pk)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)


def by_id(field: str) -> django_filters.NumberFilter:
    """Filter on a parent's id without checking that the parent exists: another site's id and
    an unused id must both answer with an empty list, or the answer reveals what exists."""
    return django_filters.NumberFilter(field_name=f"{field}_id")


class _BoundedIsoDateTimeField(django_filters.fields.IsoDateTimeField):
    def to_python(self, value):
        moment = super().to_python(value)
        if moment is None:
            return None
        if (utc := in_utc(moment)) is None:
            raise forms.ValidationError(OUT_OF_RANGE, code="invalid")
        return utc


class IsoDateTimeFilter(django_filters.IsoDateTimeFilter):
    """An ISO 8601 time filter that refuses, with 400, a time the database cannot compare."""

    field_class = _BoundedIsoDateTimeField

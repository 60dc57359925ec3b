"""Serializer fields the API resources share: site-scoped relations, local times, units."""

from __future__ import annotations

import datetime

from django.contrib.auth import get_user_model
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from advice.engine import units
from advice.engine.case_input import json_number
from cases import access
from cases.models import Patient, Site

User = get_user_model()


@extend_schema_field(serializers.FloatField(allow_null=True))
class NumberField(serializers.ReadOnlyField):
    """A stored Decimal as a plain JSON number: 600 for 600.00, 37.5 for 37.50."""

    def to_representation(self, value):
        return json_number(value)


def request_user(serializer: serializers.Serializer):
    return serializer.context["request"].user


class VisibleRelatedField(serializers.PrimaryKeyRelatedField):
    """A reference to a record the requesting user may see; others are 'not found'."""

    def get_queryset(self):
        return self.queryset.visible_to(self.context["request"].user)


class VisiblePatientField(serializers.SlugRelatedField):
    """A patient by study number, among the patients the requesting user may see."""

    def __init__(self, **kwargs):
        super().__init__(slug_field="study_number", queryset=Patient.objects.all(), **kwargs)

    def get_queryset(self):
        return Patient.objects.visible_to(self.context["request"].user)


class WorkSiteField(serializers.SlugRelatedField):
    """A site by code, among the sites the requesting user works at."""

    default_error_messages = {"does_not_exist": "Unknown site {value}."}

    def __init__(self, **kwargs):
        super().__init__(slug_field="code", queryset=Site.objects.all(), **kwargs)

    def get_queryset(self):
        user = self.context["request"].user
        if user.is_superuser:
            return Site.objects.all()
        return Site.objects.filter(pk__in=access.member_site_ids(user))


class UserField(serializers.SlugRelatedField):
    default_error_messages = {"does_not_exist": "Unknown user {value}."}

    def __init__(self, **kwargs):
        super().__init__(
            slug_field="username", queryset=User.objects.filter(is_active=True), **kwargs
        )


# A moment the database cannot hold: near year 1 or 9999, its UTC time leaves the calendar.
OUT_OF_RANGE = "is outside the years 1 to 9999 once converted to UTC."


def in_utc(moment: datetime.datetime) -> datetime.datetime | None:
    """The moment in UTC, or None when it leaves the calendar there. Times reach the database in
    UTC: PostgreSQL refuses offsets past ±15:59 that Python and ISO 8601 accept."""
    try:
        return moment.astimezone(datetime.UTC)
    except OverflowError:
        return None


class LocalDateTimeField(serializers.DateTimeField):
    """A date-time; one without UTC offset is read in the installation's time zone, unless the
    clocks change at that hour (skipped or repeated): then it is not one moment, and refused."""

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            zone = timezone.get_current_timezone()
            first, second = value.replace(tzinfo=zone, fold=0), value.replace(tzinfo=zone, fold=1)
            if first.utcoffset() != second.utcoffset():
                raise serializers.ValidationError(
                    f"{value:%Y-%m-%d %H:%M} is not a single moment in {zone} (the clocks "
                    "change then); give the UTC offset, e.g. +01:00 or +02:00."
                )
        moment = in_utc(super().enforce_timezone(value))
        if moment is None:
            raise serializers.ValidationError(OUT_OF_RANGE)
        return moment


class UnitField(serializers.CharField):
    """A concentration unit, spelt as labs spell it (`ug/L` for µg/L)."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        try:
            return units.canonical_unit(text)
        except ValueError as error:
            raise serializers.ValidationError(str(error)) from None

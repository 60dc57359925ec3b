"""The adverse-events resource of the API: logging and resolving."""

from __future__ import annotations

import django_filters
from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.response import Response

from cases import services
from cases.api.base import ScopedViewSet, by_id
from cases.api.fields import VisibleRelatedField
from cases.models import AdverseEvent, Treatment


class AdverseEventSerializer(serializers.ModelSerializer):
    class Meta:
        model = AdverseEvent
        fields = [
            "id", "treatment", "term", "meddra_code", "other_specify", "grade", "onset",
            "resolved", "related", "action", "occurrence", "entered_in_error", "created_at",
        ]  # fmt: skip


class AdverseEventCreateSerializer(serializers.Serializer):
    treatment = VisibleRelatedField(queryset=Treatment.objects.all())
    term = serializers.CharField(max_length=200)
    other_specify = serializers.CharField(
        max_length=200, required=False, allow_blank=True, default=""
    )
    grade = serializers.IntegerField()
    onset = serializers.DateField()
    resolved = serializers.DateField(required=False, allow_null=True, default=None)
    related = serializers.BooleanField(required=False, default=True)
    action = serializers.ChoiceField(
        choices=AdverseEvent.Action.choices, required=False, default=AdverseEvent.Action.NONE
    )


class AdverseEventResolveSerializer(serializers.Serializer):
    resolved = serializers.DateField()


class AdverseEventFilter(django_filters.FilterSet):
    treatment = by_id("treatment")

    class Meta:
        model = AdverseEvent
        fields = ["treatment", "grade", "related"]


@extend_schema_view(
    create=extend_schema(
        request=AdverseEventCreateSerializer, responses={201: AdverseEventSerializer}
    )
)
class AdverseEventViewSet(ScopedViewSet):
    queryset = AdverseEvent.objects.all()
    serializer_class = AdverseEventSerializer
    input_serializer_class = AdverseEventCreateSerializer
    create_service = staticmethod(services.adverse_event_record)
    filterset_class = AdverseEventFilter

    @extend_schema(request=AdverseEventResolveSerializer, responses=AdverseEventSerializer)
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None, format=None):
        """Record the date the event resolved (nothing else of an AE changes afterwards)."""
        event = self.get_object()
        serializer = AdverseEventResolveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        event = services.adverse_event_resolve(
            actor=request.user, event=event, **serializer.validated_data
        )
        return Response(self.get_serializer(event).data)

"""The study-export resource of the API: asking for an export, following it, downloading it."""

from __future__ import annotations

from django.http import FileResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission, IsAuthenticated
from rest_framework.response import Response

from cases.errors import StateConflict
from study import jobs
from study.models import Export


class ExportPermission(BasePermission):
    """Study exports are for roles with `export_study` (data managers, admins)."""

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("study.export_study")


class ExportSerializer(serializers.ModelSerializer):
    requested_by = serializers.SlugRelatedField(slug_field="username", read_only=True)
    download_url = serializers.SerializerMethodField()

    class Meta:
        model = Export
        fields = [
            "id", "format", "for_release", "state", "progress", "requested_by", "sha256",
            "size_bytes", "error", "created_at", "started_at", "finished_at", "download_url",
        ]  # fmt: skip

    def get_download_url(self, export: Export) -> str | None:
        if export.state != Export.State.DONE:
            return None
        return f"/api/v1/exports/{export.pk}/download/"


class ExportCreateSerializer(serializers.Serializer):
    format = serializers.ChoiceField(choices=Export.Format.choices)
    for_release = serializers.BooleanField(required=False, default=False)


class ExportViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Pseudonymised study exports (docs/data-dictionary.md): start one, follow its progress,
    download it."""

    serializer_class = ExportSerializer
    permission_classes = [IsAuthenticated, ExportPermission]
    queryset = Export.objects.select_related("requested_by")

    def get_queryset(self):
        return jobs.exports_visible_to(self.request.user).select_related("requested_by")

    @extend_schema(request=ExportCreateSerializer, responses={201: ExportSerializer})
    def create(self, request, *args, **kwargs):
        data = ExportCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        export = jobs.export_request(actor=request.user, **data.validated_data)
        return Response(self.get_serializer(export).data, status=status.HTTP_201_CREATED)

    @extend_schema(responses={(200, "application/octet-stream"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"])
    def download(self, request, pk=None, format=None):
        export = self.get_object()
        if export.state != Export.State.DONE:
            raise StateConflict(f"The export is {export.state}, not ready yet.")
        path = jobs.export_file(export, actor=request.user)
        return FileResponse(path.open("rb"), as_attachment=True, filename=export.filename)


class ExportPermission(BasePermission):
    """Study exports are for roles with `export_study` (data managers, admins)."""

    def has_permission(self, request, view) -> bool:
        return request.user.has_perm("study.export_study")

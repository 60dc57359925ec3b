from django.urls import path

from . import study_views

urlpatterns = [
    path("exports/", study_views.export_list, name="export-list"),
    path("exports/start/", study_views.export_start, name="export-start"),
    path("exports/<int:pk>/", study_views.export_detail, name="export-detail"),
    path("exports/<int:pk>/progress/", study_views.export_progress, name="export-progress"),
    path("exports/<int:pk>/download/", study_views.export_download, name="export-download"),
    path("study/", study_views.study_dashboard, name="study-dashboard"),
]

from django.urls import path

from study import views

urlpatterns = [
    path("exports/", views.export_list, name="export-list"),
    path("exports/start/", views.export_start, name="export-start"),
    path("exports/<int:pk>/", views.export_detail, name="export-detail"),
    path("exports/<int:pk>/progress/", views.export_progress, name="export-progress"),
    path("exports/<int:pk>/download/", views.export_download, name="export-download"),
    path("study/", views.study_dashboard, name="study-dashboard"),
]

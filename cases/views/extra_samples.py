"""The page that asks for an unscheduled (extra) sample of a treatment."""

from django.http import Http404


def extra_sample_create(request, pk):
    raise Http404

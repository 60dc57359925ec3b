"""Page actions on one dose regimen: withdrawing it, marking it entered in error."""

from django.http import Http404


def regimen_withdraw(request, pk):
    raise Http404


def regimen_entered_in_error(request, pk):
    raise Http404

"""The forms of the advice pages: releasing, withdrawing, accepting and rejecting. They only
parse; `advice.services` validates and decides.
"""

from __future__ import annotations

from decimal import Decimal

from django import forms

from advice.engine.text import CODE_DESCRIPTIONS
from cases.forms import ADMINISTRATION_CHOICES, DateField, level_text
from cases.models import Drug


class ReleaseForm(forms.Form):
    text = forms.CharField(
        label="Advice text", widget=forms.Textarea(attrs={"rows": 5}), max_length=2000
    )
    proposed_daily_dose_mg = forms.DecimalField(
        label="Proposed daily dose (mg)", max_digits=8, decimal_places=2, min_value=0
    )
    proposed_administrations_per_day = forms.IntegerField(
        label="Administrations per day",
        min_value=1,
        max_value=4,
        widget=forms.Select(choices=ADMINISTRATION_CHOICES),
    )

    def __init__(self, *args, drug: Drug, **kwargs):
        super().__init__(*args, **kwargs)
        levels = [level_text(level) for level in drug.facts().dose_levels_mg]
        proposed = self.initial.get("proposed_daily_dose_mg")
        if proposed is not None and level_text(Decimal(str(proposed))) not in levels:
            levels.insert(0, level_text(Decimal(str(proposed))))
        self.fields["proposed_daily_dose_mg"].widget = forms.Select(
            choices=[(level, f"{level} mg/day") for level in levels]
        )


class AcceptForm(forms.Form):
    checks_confirmed = forms.MultipleChoiceField(
        label="I confirmed", required=False, widget=forms.CheckboxSelectMultiple
    )
    effective_date = DateField(label="Dose change takes effect on")
    password = forms.CharField(
        label="Your password (electronic signature)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
        error_messages={"required": "Enter your password to sign."},
    )

    def __init__(self, *args, checks: list[str], **kwargs):
        # Accept and reject share the sign-off page, and both have a password: distinct ids.
        kwargs.setdefault("auto_id", "accept_%s")
        super().__init__(*args, **kwargs)
        if not checks:
            # Nothing to confirm: no empty "I confirmed" group on the page.
            del self.fields["checks_confirmed"]
            return
        self.fields["checks_confirmed"].choices = [
            (code, f"{code.replace('_', ' ')}: {CODE_DESCRIPTIONS.get(code, '')}")
            for code in checks
        ]


class RejectForm(forms.Form):
    reason = forms.CharField(
        label="Reason for rejecting",
        widget=forms.Textarea(attrs={"rows": 3}),
        max_length=2000,
        error_messages={"required": "Give the reason for rejecting the advice."},
    )
    password = forms.CharField(
        label="Your password (electronic signature)",
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
        strip=False,
        error_messages={"required": "Enter your password to sign."},
    )

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("auto_id", "reject_%s")
        super().__init__(*args, **kwargs)


class WithdrawForm(forms.Form):
    reason = forms.CharField(
        label="Reason for withdrawing",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=2000,
        error_messages={"required": "Give the reason for withdrawing the advice."},
    )

    def __init__(self, *args, **kwargs):
        # The release form on the same page has fields of its own: distinct ids.
        kwargs.setdefault("auto_id", "withdraw_%s")
        super().__init__(*args, **kwargs)

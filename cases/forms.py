"""Page forms. They parse what a user typed; the services validate it and write.

A form checks only what it needs to call a service: a number is a number, a date a date, a choice
one of those offered. The clinical rules (dose levels, CTCAE grades, draw times) live in
`cases.services`; `apply_errors` puts the service's messages next to the fields they name.
"""

from __future__ import annotations

import datetime
import hashlib
from decimal import Decimal

from django import forms
from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.utils import timezone

from advice.engine import ctcae
from cases import access, roles
from cases.models import (
    AdverseEvent,
    AuditEvent,
    DoseRegimen,
    Drug,
    Patient,
    Sample,
    Site,
    Treatment,
)
from cases.models.patients import EARLIEST_BIRTH_YEAR
from cases.pages import drug_names, visible_sites
from cases.selectors import SORTS, WINDOWS, nurses_to_filter_by

# Dates outside this range are typing slips (20224 for 2024); refusing them here keeps every
# date the services see within what the schedule and the database can hold.
EARLIEST_DATE = datetime.date(1900, 1, 1)
LATEST_DATE = datetime.date(2199, 12, 31)

ADMINISTRATION_CHOICES = [
    (1, "1 × a day (QD)"),
    (2, "2 × a day (BID)"),
    (3, "3 × a day (TID)"),
    (4, "4 × a day (QID)"),
]

# docs/clinical-rules.md §1 ("Summed analytes"): for sunitinib the target applies to the sum of
# the parent and its active metabolite, which the lab reports separately.
SUMMED_ANALYTES: dict[str, tuple[str, str]] = {"sunitinib": ("sunitinib", "SU12662")}


def apply_errors(
    form: forms.Form, error: ValidationError, field_map: dict[str, str] | None = None
) -> None:
    """Show a service's `{field: [messages]}` next to the form's fields (`field_map` renames a
    service field to the form field the user filled in); anything else goes above the form."""
    field_map = field_map or {}
    by_field = error.message_dict if hasattr(error, "error_dict") else {None: error.messages}
    for field, field_messages in by_field.items():
        target = field_map.get(field, field)
        form.add_error(target if target in form.fields else None, field_messages)


def level_text(value: Decimal) -> str:
    """A dose as the option value and label show it: 37.5, 400 (never 4E+2 or 400.00)."""
    return format(Decimal(value).normalize(), "f")


class NumberField(forms.DecimalField):
    """A decimal typed as text: a number input would silently send nothing for "12,5" and the
    sample would be saved without its result; here the user is told instead."""

    default_error_messages = {"invalid": "Enter a number, with a decimal point (e.g. 12.5)."}

    def __init__(self, **kwargs):
        kwargs.setdefault(
            "widget", forms.TextInput(attrs={"inputmode": "decimal", "autocomplete": "off"})
        )
        super().__init__(**kwargs)

    def widget_attrs(self, widget):
        # The text input must not get number-input attributes (step, min) from DecimalField.
        return forms.Field.widget_attrs(self, widget)


class DateField(forms.DateField):
    widget = forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")

    def validate(self, value):
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value <= LATEST_DATE:
            raise ValidationError(
                f"Give a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.", code="range"
            )


class LocalDateTimeField(forms.DateTimeField):
    """A date and time on the site's clock; an hour the clocks skip or repeat is refused."""

    widget = forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M")

    def to_python(self, value):
        try:
            return super().to_python(value)
        except ValidationError as error:
            if error.code != "ambiguous_timezone":
                raise
            zone = timezone.get_current_timezone_name()
            raise ValidationError(
                f"{value.replace('T', ' ')} is not a single moment in {zone}: the clocks change "
                "then. Give the time an hour earlier or later as it was on the clock.",
                code="ambiguous_timezone",
            ) from None

    def validate(self, value):
        super().validate(value)
        if value is not None and not EARLIEST_DATE <= value.date() <= LATEST_DATE:
            raise ValidationError(
                f"Give a date between {EARLIEST_DATE:%Y} and {LATEST_DATE:%Y}.", code="range"
            )


def _staff_choices(user, role: str):
    """Active users with `role` at the sites `user` works at."""
    return (
        get_user_model()
        .objects.filter(
            is_active=True,
            groups__name=role,
            site_memberships__site_id__in=access.member_site_ids(user),
        )
        .distinct()
        .order_by("last_name", "first_name", "username")
    )


class StaffChoiceField(forms.ModelChoiceField):
    def label_from_instance(self, obj):
        return obj.get_full_name() or obj.get_username()


# Patients ---------------------------------------------------------------------------------------


class PatientForm(forms.Form):
    site = forms.ModelChoiceField(queryset=Site.objects.none(), empty_label=None)
    study_number = forms.CharField(
        max_length=32, help_text="The pseudonym used in the study, e.g. TDM-0001."
    )
    name = forms.CharField(label="Name", max_length=200, required=False)
    record_number = forms.CharField(label="Hospital record number", max_length=40, required=False)
    sex = forms.ChoiceField(choices=[("", "— choose —"), *Patient.Sex.choices])
    birth_year = forms.IntegerField(
        min_value=EARLIEST_BIRTH_YEAR,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"invalid": "Enter the year of birth as four digits, e.g. 1958."},
    )
    tumour = forms.CharField(label="Tumour type", max_length=200)
    tumour_code = forms.CharField(
        label="Tumour code", max_length=20, required=False, help_text="e.g. ICD-10 C22.0"
    )
    treating_physician = StaffChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="— none —"
    )
    responsible_nurse = StaffChoiceField(
        queryset=get_user_model().objects.none(), required=False, empty_label="— none —"
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = Site.objects.filter(
            pk__in=access.member_site_ids(user)
        ).order_by("code")
        self.fields["treating_physician"].queryset = _staff_choices(user, roles.PHYSICIAN)
        self.fields["responsible_nurse"].queryset = _staff_choices(user, roles.NURSE)
        if not self.is_bound and roles.NURSE in access.user_roles(user):
            self.initial.setdefault("responsible_nurse", user.pk)


# Doses ------------------------------------------------------------------------------------------


class DoseFieldsMixin(forms.Form):
    """A daily dose chosen from the drug's levels, or an off-label dose confirmed with a reason.

    `prescribed_dose()` names the field the dose came from, so the service's verdict on the dose
    appears next to what the user actually filled in.
    """

    # Required or not depending on each other: the page does not call them optional.
    conditionally_required = frozenset({"daily_dose_mg", "off_label_dose_mg", "off_label_reason"})

    daily_dose_mg = NumberField(
        label="Daily dose (mg/day)",
        max_digits=8,
        decimal_places=2,
        error_messages={"required": "Choose the daily dose."},
    )
    administrations_per_day = forms.IntegerField(
        label="Administrations per day", widget=forms.Select(choices=ADMINISTRATION_CHOICES)
    )
    off_label_confirmed = forms.BooleanField(
        label="I confirm a dose that is not one of the drug's dose levels (off-label)",
        required=False,
    )
    off_label_dose_mg = NumberField(
        label="Off-label daily dose (mg/day)", required=False, max_digits=8, decimal_places=2
    )
    off_label_reason = forms.CharField(
        label="Reason for the off-label dose", max_length=200, required=False
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # The dose comes from the level list unless an off-label dose is given instead.
        off_label = self.data.get("off_label_confirmed") or self.data.get("off_label_dose_mg")
        self.fields["daily_dose_mg"].required = not (self.is_bound and off_label)

    def set_dose_levels(self, drug: Drug | None, *, interruption: bool = False) -> None:
        options = [("", "— choose the drug first —" if drug is None else "— choose —")]
        if interruption:
            options.append(("0", "0 mg/day: interruption"))
        if drug is not None:
            options += [
                (level_text(level), f"{level_text(level)} mg/day")
                for level in drug.facts().dose_levels_mg
            ]
        self.fields["daily_dose_mg"].widget = forms.Select(choices=options)

    def clean(self):
        data = super().clean()
        level = data.get("daily_dose_mg")
        off_label = data.get("off_label_dose_mg")
        confirmed = data.get("off_label_confirmed")
        if confirmed and off_label is None and "off_label_dose_mg" not in self.errors:
            self.add_error("off_label_dose_mg", "Give the off-label daily dose.")
        if confirmed and not data.get("off_label_reason", "").strip():
            self.add_error("off_label_reason", "Give the reason for the off-label dose.")
        if level is not None and off_label is not None:
            self.add_error(
                "off_label_dose_mg",
                "Choose a dose level or give an off-label dose, not both.",
            )
        return data

    def prescribed_dose(self) -> tuple[Decimal, str, str]:
        """(daily dose, off-label reason or "", the form field the dose came from)."""
        data = self.cleaned_data
        if data.get("off_label_dose_mg") is not None:
            reason = data["off_label_reason"].strip() if data.get("off_label_confirmed") else ""
            return data["off_label_dose_mg"], reason, "off_label_dose_mg"
        return data["daily_dose_mg"], "", "daily_dose_mg"


class TreatmentForm(DoseFieldsMixin):
    drug = forms.ModelChoiceField(
        queryset=Drug.objects.order_by("name", "indication"),
        label="Drug (and indication)",
        empty_label="— choose —",
        error_messages={"invalid_choice": "Unknown drug: choose one from the catalogue."},
    )
    start_date = DateField(label="Start date")
    overlap_reason = forms.CharField(
        label="Reason for a second course of the same drug",
        required=False,
        max_length=200,
        help_text="Only when the patient already takes this drug and both courses are intended.",
    )

    field_order = [
        "drug", "start_date", "daily_dose_mg", "administrations_per_day",
        "off_label_confirmed", "off_label_dose_mg", "off_label_reason", "overlap_reason",
    ]  # fmt: skip

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_dose_levels(self.chosen_drug())

    def chosen_drug(self) -> Drug | None:
        """The drug picked so far (bound or initial), to offer its dose levels."""
        value = self.data.get("drug") if self.is_bound else self.initial.get("drug")
        if isinstance(value, Drug):
            return value
        try:
            return Drug.objects.get(pk=int(value)) if value else None
        except (TypeError, ValueError, Drug.DoesNotExist):
            return None


class DoseChangeForm(DoseFieldsMixin):
    effective_from = DateField(label="Takes effect on")
    reason = forms.ChoiceField(
        label="Reason for the change",
        choices=[("", "— choose —")]
        + [c for c in DoseRegimen.Reason.choices if c[0] != DoseRegimen.Reason.START],
    )

    field_order = [
        "effective_from", "daily_dose_mg", "administrations_per_day", "reason",
        "off_label_confirmed", "off_label_dose_mg", "off_label_reason",
    ]  # fmt: skip

    def __init__(self, *args, treatment: Treatment, **kwargs):
        super().__init__(*args, **kwargs)
        self.set_dose_levels(treatment.drug, interruption=True)


class StopTreatmentForm(forms.Form):
    stop_date = DateField(label="Stopped from", help_text="The first day without the drug.")
    stop_reason = forms.CharField(
        label="Reason for stopping",
        max_length=200,
        error_messages={"required": "Say why the treatment stops."},
    )


class RegimenStatusForm(forms.Form):
    """The reason for withdrawing a dose not yet in effect or marking one entered in error."""

    reason = forms.CharField(
        label="Reason",
        max_length=200,
        error_messages={"required": "Give the reason."},
    )


class ExtraSampleForm(forms.Form):
    """An unscheduled sample asked for on a day (docs/sampling-schedule.md §12)."""

    date = DateField(
        label="Sample due on",
        help_text="A sample drawn from 7 days before to 7 days after this day counts for it.",
    )
    reason = forms.CharField(
        label="Why the extra sample",
        max_length=200,
        help_text='For example "re-sample in 2 weeks: the last level was drawn too early".',
        error_messages={"required": "Say why the extra sample is needed."},
    )


# Samples ----------------------------------------------------------------------------------------


class ConfirmImplausibleMixin(forms.Form):
    """The confirmation of a value or time outside the plausible range (docs/clinical-rules.md
    §1.1). It is offered once the service refused such a value, so nobody ticks it by habit: until
    then it travels as a hidden field."""

    confirm_implausible = forms.BooleanField(
        label="I have checked it: store the value or time outside the plausible range",
        required=False,
        widget=forms.HiddenInput,
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        ticked = self.data.get(self.add_prefix("confirm_implausible"))
        if ticked not in (None, "", "False", "false"):
            self.offer_confirmation()

    def offer_confirmation(self) -> None:
        self.fields["confirm_implausible"].widget = forms.CheckboxInput()


class ResultFieldsMixin(forms.Form):
    concentration = NumberField(
        label="Measured concentration",
        required=False,
        max_digits=14,
        decimal_places=4,
    )
    # The units as labs write them (the enum's generated labels would read "Ng Ml").
    unit = forms.ChoiceField(
        choices=[(unit, unit) for unit in Sample.Unit.values], initial=Sample.Unit.NG_ML
    )
    below_lloq = forms.BooleanField(
        label="Below the lower limit of quantification (LLOQ)", required=False
    )


class SampleForm(ResultFieldsMixin, ConfirmImplausibleMixin):
    drawn_at = LocalDateTimeField(label="Drawn at")
    last_dose_at = LocalDateTimeField(label="Last dose taken at", required=False)
    lab_accession = forms.CharField(label="Lab accession number", max_length=60, required=False)

    field_order = [
        "drawn_at", "last_dose_at", "concentration", "unit", "below_lloq", "lab_accession",
        "confirm_implausible",
    ]  # fmt: skip

    def __init__(self, *args, treatment: Treatment, **kwargs):
        super().__init__(*args, **kwargs)
        zone = timezone.get_current_timezone_name()
        self.fields["drawn_at"].help_text = f"Local time ({zone})."
        self.fields[
            "last_dose_at"
        ].help_text = (
            f"Local time ({zone}). Leave empty if unknown: the sample is then not evaluable."
        )
        self.fields[
            "concentration"
        ].help_text = "Leave empty while the lab result is pending; enter it on the sample later."
        self.analyte_names = SUMMED_ANALYTES.get(treatment.drug.name, ())
        for index, name in enumerate(self.analyte_names):
            self.fields[f"analyte_{index}"] = NumberField(
                label=f"{name} (ng/mL)", required=False, max_digits=14, decimal_places=4
            )
        if self.analyte_names:
            self.fields["concentration"].help_text = (
                f"The sum of {' and '.join(self.analyte_names)}, or give them separately below. "
                "Leave empty while the lab result is pending."
            )

    def clean(self):
        data = super().clean()
        given = [data.get(f"analyte_{i}") for i in range(len(self.analyte_names))]
        if any(value is not None for value in given):
            for index, value in enumerate(given):
                if value is None and f"analyte_{index}" not in self.errors:
                    self.add_error(f"analyte_{index}", "Give both analytes, or only the sum.")
            if data.get("concentration") is not None:
                self.add_error("concentration", "Give the sum or the analytes, not both.")
        return data

    def service_kwargs(self) -> dict[str, object]:
        data = self.cleaned_data
        analytes = {
            name: data[f"analyte_{index}"]
            for index, name in enumerate(self.analyte_names)
            if data.get(f"analyte_{index}") is not None
        }
        return {
            "drawn_at": data["drawn_at"],
            "last_dose_at": data["last_dose_at"],
            "concentration": data["concentration"],
            "unit": data["unit"],
            "below_lloq": data["below_lloq"],
            "lab_accession": data["lab_accession"],
            "analytes": analytes or None,
            "confirm_implausible": data["confirm_implausible"],
        }


class SampleResultForm(ResultFieldsMixin, ConfirmImplausibleMixin):
    # A result is a concentration unless it is below the limit of quantification.
    conditionally_required = frozenset({"concentration"})


# What a correction may change of a sample (the service's correctable fields).
CORRECTED_FIELDS = ("drawn_at", "last_dose_at", "concentration", "unit", "below_lloq")


def sample_version(sample: Sample) -> str:
    """A digest of the sample as the correction page shows it: another one once it was
    corrected, resulted or cancelled."""
    values = [sample.status, *(str(getattr(sample, name)) for name in CORRECTED_FIELDS)]
    return hashlib.sha256("|".join(values).encode()).hexdigest()[:16]


class SampleCorrectForm(ResultFieldsMixin, ConfirmImplausibleMixin):
    """The sample's current values, to change where they were wrong; `corrections()` holds only
    the fields the user changed, which is what the service corrects. The page carries the
    version it showed (`shown`): a form sent from a page opened before the sample changed is
    `stale()`, as its unchanged fields would undo the other change."""

    # A resulted sample keeps a result: a concentration unless it is below the LLOQ.
    conditionally_required = frozenset({"concentration"})

    drawn_at = LocalDateTimeField(label="Drawn at")
    last_dose_at = LocalDateTimeField(
        label="Last dose taken at", required=False, help_text="Empty if unknown."
    )
    reason = forms.CharField(
        label="Reason for the correction",
        max_length=200,
        error_messages={"required": "Say why the sample is corrected."},
    )
    shown = forms.CharField(widget=forms.HiddenInput, required=False)

    field_order = [
        "drawn_at", "last_dose_at", "concentration", "unit", "below_lloq", "reason",
        "confirm_implausible",
    ]  # fmt: skip

    def __init__(self, *args, sample: Sample, **kwargs):
        # Shown as the inputs show them (to the minute, a value without trailing zeros), so a
        # field left as it was is not taken for a change.
        initial = {
            "drawn_at": _to_the_minute(sample.drawn_at),
            "last_dose_at": _to_the_minute(sample.last_dose_at),
            "concentration": (
                Decimal(level_text(sample.concentration))
                if sample.concentration is not None
                else None
            ),
            "unit": sample.unit,
            "below_lloq": sample.below_lloq,
            "shown": sample_version(sample),
        }
        super().__init__(*args, initial=initial, **kwargs)
        if sample.status == Sample.Status.DRAWN:
            # No result yet: it is entered as the result, not corrected.
            for name in ("concentration", "unit", "below_lloq"):
                del self.fields[name]

    def corrections(self) -> dict[str, object]:
        return {
            name: self.cleaned_data[name] for name in CORRECTED_FIELDS if name in self.changed_data
        }

    def stale(self) -> bool:
        """Sent from a page showing other values than the sample holds now (changed meanwhile,
        or the same correction sent a second time), whatever else it holds: a result entered
        meanwhile asks for fields that page did not have. A client sending no version is not
        checked."""
        shown = self.data.get(self.add_prefix("shown"))
        return bool(shown) and shown != self.initial["shown"]


def _to_the_minute(moment: datetime.datetime | None) -> datetime.datetime | None:
    if moment is None:
        return None
    return timezone.localtime(moment).replace(second=0, microsecond=0)


class SampleCancelForm(forms.Form):
    reason = forms.CharField(
        label="Reason for cancelling",
        max_length=200,
        error_messages={"required": "Say why the sample is cancelled."},
    )


# Adverse events ---------------------------------------------------------------------------------


def grade_choices(term: ctcae.CtcaeTerm | None) -> list[tuple[int, str]]:
    """The grades a term defines, each with its CTCAE description; 1–5 before a term is known."""
    if term is None:
        return [(grade, f"Grade {grade}") for grade in ctcae.GRADES]
    return [(grade, f"Grade {grade}: {text}") for grade, text in term.grades]


class AdverseEventForm(forms.Form):
    term = forms.CharField(
        label="CTCAE v5.0 term",
        max_length=200,
        help_text="Type part of the term and pick it from the list.",
        widget=forms.TextInput(attrs={"list": "ctcae-terms", "autocomplete": "off"}),
    )
    other_specify = forms.CharField(
        label="Describe the event ('Other, specify' terms only)", max_length=200, required=False
    )
    grade = forms.IntegerField(
        widget=forms.RadioSelect, error_messages={"required": "Choose the grade."}
    )
    onset = DateField(label="Onset date")
    resolved = DateField(label="Resolved on", required=False, help_text="Empty while ongoing.")
    related = forms.TypedChoiceField(
        label="Related to the treatment",
        choices=[("yes", "yes"), ("no", "no")],
        coerce=lambda value: value == "yes",
        initial="yes",
    )
    action = forms.ChoiceField(label="Action taken", choices=AdverseEvent.Action.choices)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.ctcae_term = self.chosen_term()
        self.fields["grade"].widget.choices = grade_choices(self.ctcae_term)
        if self.ctcae_term is None or not self.ctcae_term.is_other_specify:
            self.fields["other_specify"].widget = forms.HiddenInput()

    def chosen_term(self) -> ctcae.CtcaeTerm | None:
        value = self.data.get("term") if self.is_bound else self.initial.get("term")
        return ctcae.find_term(value) if isinstance(value, str) else None


class AdverseEventResolveForm(forms.Form):
    resolved = DateField(label="Resolved on")


# Lists ------------------------------------------------------------------------------------------


WORKLIST_SORT_LABELS = {"due": "due date", "patient": "patient", "drug": "drug"}


class WorklistFilterForm(forms.Form):
    """The worklist's filters (site, drug, nurse, due window) and its order."""

    site = forms.ModelChoiceField(
        queryset=Site.objects.none(), required=False, empty_label="all my sites"
    )
    drug = forms.ChoiceField(required=False)
    nurse = forms.ModelChoiceField(
        queryset=None, required=False, empty_label="every nurse", label="Nurse"
    )
    window = forms.ChoiceField(
        label="Due",
        required=False,
        choices=[
            (key, f"overdue and the next {days} days" if days else "overdue only")
            for key, days in WINDOWS.items()
        ],
    )
    sort = forms.ChoiceField(
        label="Sort by",
        required=False,
        choices=[(key, WORKLIST_SORT_LABELS[key]) for key in SORTS],
    )

    def __init__(self, *args, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["site"].queryset = visible_sites(user)
        self.fields["drug"].choices = [("", "all drugs")] + [(n, n) for n in drug_names()]
        self.fields["nurse"].queryset = nurses_to_filter_by(user)

    def filters(self) -> dict[str, object]:
        """The filters given that the form accepts. One it refuses (a stale bookmark: a nurse
        who left, another site) is named on the form and left out; the others still apply."""
        if not self.is_bound:
            return {}
        self.is_valid()
        return self.cleaned_data


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(required=False, choices=[("", "any"), *AuditEvent.Action.choices])
    model = forms.ChoiceField(label="Record type", required=False)
    user = forms.CharField(label="User", max_length=150, required=False)
    date_from = DateField(label="From", required=False)
    date_to = DateField(label="To", required=False)

    def __init__(self, *args, models: list[str], **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["model"].choices = [("", "any")] + [
            (label, label.split(".")[-1]) for label in models
        ]

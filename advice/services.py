"""The advice workflow: compute → release → accept | reject, and what follows (docs/workflow.md).

Every function here is a service (STYLE): one transaction, the state it acts on locked and
checked, the audit event in the same transaction; what other apps do next (reports,
notifications) they do on the signals of `advice.signals`. A state
that no longer allows the step answers `StateConflict` (HTTP 409).
"""

from __future__ import annotations

import datetime
import logging
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from advice import inputs as advice_inputs
from advice import signals
from advice.engine.case_input import advice_to_json, json_number, toxicity_advice_to_json
from advice.engine.codes import DISCONTINUE, INTERRUPT, INTERRUPT_THEN_REDUCE
from advice.models import OPEN_STATES, Advice
from cases import access, audit, clinical, services
from cases.errors import StateConflict
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Drug, Sample
from tdm_site.background import BACKLOG_GRACE

logger = logging.getLogger(__name__)

# Advice answers the patient's exposure now: a change further away than this is not this advice.
LONGEST_DECISION_LEAD = datetime.timedelta(days=90)
# Sample-driven actions that change the prescribed dose when accepted.
DOSE_CHANGING_ACTIONS = frozenset({"increase", "reduce", "continue_step_up"})


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# Computing advice --------------------------------------------------------------------------------


def advice_create_for_sample(*, sample_id: int) -> Advice | None:
    """Compute and store the advice on a resulted sample; running it twice creates it once.

    A newer result supersedes the unsigned advice of older samples of the same treatment; a
    result entered late, older than a sample that already has advice, is stored superseded.
    """
    with transaction.atomic():
        sample = (
            Sample.objects.select_for_update()
            .select_related("treatment__drug", "treatment__patient__site")
            .get(pk=sample_id)
        )
        if sample.status != Sample.Status.RESULTED or not sample.daily_dose_mg:
            return None
        # Any advice of this sample, superseded included: a sample is advised on once.
        existing = sample.advice.order_by("-pk").first()
        if existing is not None:
            return existing
        inputs = advice_inputs.sample_advice_inputs(sample)
        result = advice_inputs.advise_on_inputs(inputs)
        treatment = sample.treatment
        live = Advice.objects.filter(treatment=treatment, kind=Advice.Kind.SAMPLE).exclude(
            state=Advice.State.SUPERSEDED
        )
        newer_exists = live.filter(sample__drawn_at__gt=sample.drawn_at).exists()
        advice = Advice(
            treatment=treatment,
            kind=Advice.Kind.SAMPLE,
            sample=sample,
            state=Advice.State.SUPERSEDED if newer_exists else Advice.State.DRAFT,
            inputs=inputs,
            computed=advice_to_json(result),
            action=result.action,
            evaluable=result.evaluable,
            reasons=list(result.reasons),
            ctrough_ng_ml=result.ctrough_ng_ml,
            target_ng_ml=result.target_ng_ml,
            current_daily_dose_mg=result.current_daily_dose_mg,
            proposed_daily_dose_mg=result.proposed_daily_dose_mg,
            proposed_administrations_per_day=result.proposed_administrations_per_day,
            proposed_split_mg=[json_number(part) for part in result.proposed_split_mg],
            predicted_ctrough_ng_ml=result.predicted_ctrough_ng_ml,
            warnings=list(result.warnings),
            checks=list(result.checks),
            text=result.text,
            provisional=result.provisional,
        )
        try:
            with transaction.atomic():
                advice.save()
        except IntegrityError:
            # Another worker stored this sample's advice between our check and insert.
            return sample.advice.exclude(state=Advice.State.SUPERSEDED).get()
        if not newer_exists:
            older = live.filter(state__in=OPEN_STATES, sample__drawn_at__lt=sample.drawn_at)
            for superseded in older.select_for_update():
                _supersede(superseded, by=advice)
        audit.record(
            actor=None,
            actor_username="system",
            action=AuditEvent.Action.CREATE,
            instance=advice,
            detail=f"advice {advice.action} computed from sample {sample.pk}",
        )
        if advice.state == Advice.State.DRAFT:
            signals.advice_created.send(sender=Advice, advice=advice)
        return advice


def advice_create_for_adverse_event(*, event_id: int) -> Advice | None:
    """Compute and store the toxicity advice on a logged AE (docs/clinical-rules.md §6);
    idempotent."""
    with transaction.atomic():
        event = (
            AdverseEvent.objects.select_for_update()
            .select_related("treatment__drug", "treatment__patient__site")
            .get(pk=event_id)
        )
        if event.entered_in_error:
            return None
        existing = event.advice.order_by("-pk").first()
        if existing is not None:
            return existing
        inputs = advice_inputs.adverse_event_advice_inputs(event)
        if inputs is None:
            return None
        result = advice_inputs.toxicity_on_inputs(inputs)
        current = result.current_daily_dose_mg
        proposed = result.resume_daily_dose_mg if result.resume_daily_dose_mg else current
        administrations = (
            result.resume_administrations_per_day or inputs["regimen"]["administrations_per_day"]
        )
        split = (
            result.resume_split_mg
            or clinical.split_daily_dose(event.treatment.drug, proposed, administrations).parts_mg
        )
        advice = Advice(
            treatment=event.treatment,
            kind=Advice.Kind.TOXICITY,
            adverse_event=event,
            inputs=inputs,
            computed=toxicity_advice_to_json(result),
            action=result.action,
            current_daily_dose_mg=current,
            proposed_daily_dose_mg=proposed,
            proposed_administrations_per_day=administrations,
            proposed_split_mg=[json_number(part) for part in split],
            warnings=list(result.warnings),
            checks=[],
            text=result.text,
        )
        try:
            with transaction.atomic():
                advice.save()
        except IntegrityError:
            return event.advice.exclude(state=Advice.State.SUPERSEDED).get()
        audit.record(
            actor=None,
            actor_username="system",
            action=AuditEvent.Action.CREATE,
            instance=advice,
            detail=f"toxicity advice {advice.action} on adverse event {event.pk}",
        )
        signals.advice_created.send(sender=Advice, advice=advice)
        return advice


# An AE logged while the drug was interrupted gets no toxicity advice; stop looking after this.
BACKLOG_HORIZON = datetime.timedelta(days=30)


def advice_backlog(*, now: datetime.datetime, limit: int = 500) -> dict[str, int]:
    """Advise on the results and adverse events that have no advice yet (their task was never
    delivered: broker down at save time). Each step is idempotent; at most `limit` of each."""
    cutoff = now - BACKLOG_GRACE
    samples = Sample.objects.filter(
        status=Sample.Status.RESULTED, daily_dose_mg__gt=0, created_at__lte=cutoff
    ).exclude(Exists(Advice.objects.filter(sample=OuterRef("pk"))))
    events = AdverseEvent.objects.filter(
        entered_in_error=False, created_at__lte=cutoff, created_at__gte=now - BACKLOG_HORIZON
    ).exclude(Exists(Advice.objects.filter(adverse_event=OuterRef("pk"))))
    done = {"sample_advice": 0, "toxicity_advice": 0}
    for sample_id in samples.values_list("pk", flat=True)[:limit]:
        done["sample_advice"] += advice_create_for_sample(sample_id=sample_id) is not None
    for event_id in events.values_list("pk", flat=True)[:limit]:
        done["toxicity_advice"] += advice_create_for_adverse_event(event_id=event_id) is not None
    if any(done.values()):
        logger.info("advice backlog sweep did %s", done)
    return done


def _supersede(advice: Advice, *, by: Advice) -> None:
    before = audit.snapshot(advice)
    Advice.objects.filter(pk=advice.pk, state__in=OPEN_STATES).update(
        state=Advice.State.SUPERSEDED, updated_at=timezone.now()
    )
    advice.refresh_from_db()
    audit.record(
        actor=None,
        actor_username="system",
        action=AuditEvent.Action.UPDATE,
        instance=advice,
        before=before,
        detail=f"superseded by advice {by.pk} on a newer result",
    )


def advice_withdraw_for_sample(*, sample: Sample, actor: AbstractBaseUser) -> None:
    """Withdraw (supersede) the unsigned advice of a cancelled sample, in the caller's
    transaction; signed advice stays as it was signed."""
    for advice in Advice.objects.select_for_update().filter(sample=sample, state__in=OPEN_STATES):
        advice_before = audit.snapshot(advice)
        advice.state = Advice.State.SUPERSEDED
        advice.save(update_fields=["state", "updated_at"])
        audit.record(
            actor=actor,
            action=AuditEvent.Action.UPDATE,
            instance=advice,
            before=advice_before,
            detail=f"withdrawn: sample {sample.pk} cancelled",
        )


# Release by the pharmacist -----------------------------------------------------------------------


def _locked(advice: Advice) -> Advice:
    return (
        Advice.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site", "sample")
        .get(pk=advice.pk)
    )


def _require(actor: AbstractBaseUser, permission: str, advice: Advice) -> None:
    if not actor.has_perm(permission) or not access.works_at(
        actor, advice.treatment.patient.site_id
    ):
        raise PermissionDenied("Your role may not do this for this patient.")


@transaction.atomic
def advice_release(
    *,
    actor: AbstractBaseUser,
    advice: Advice,
    text: str | None = None,
    proposed_daily_dose_mg: Decimal | None = None,
    proposed_administrations_per_day: int | None = None,
) -> Advice:
    """The pharmacist releases draft advice to the physician, optionally edited.

    The engine's output stays in `computed`; the released text and regimen are the columns.
    """
    advice = _locked(advice)
    _require(actor, "advice.release_advice", advice)
    if advice.state != Advice.State.DRAFT:
        raise StateConflict(f"Only draft advice can be released; this one is {advice.state}.")
    drug: Drug = advice.treatment.drug
    errors: dict[str, list[str]] = {}
    new_text = advice.text if text is None or not text.strip() else text.strip()
    dose = (
        advice.proposed_daily_dose_mg if proposed_daily_dose_mg is None else proposed_daily_dose_mg
    )
    administrations = proposed_administrations_per_day or advice.proposed_administrations_per_day
    if dose < 0:
        errors.setdefault("proposed_daily_dose_mg", []).append("A dose cannot be negative.")
    elif dose > 0 and dose not in drug.facts().dose_levels_mg:
        levels = ", ".join(format(v.normalize(), "f") for v in drug.facts().dose_levels_mg)
        errors.setdefault("proposed_daily_dose_mg", []).append(
            f"Propose one of the dose levels of {drug}: {levels} mg/day."
        )
    if not 1 <= administrations <= 4:
        errors.setdefault("proposed_administrations_per_day", []).append("Give 1 to 4.")
    if errors:
        raise ValidationError(errors)
    before = audit.snapshot(advice)
    edited = (
        new_text != advice.text
        or dose != advice.proposed_daily_dose_mg
        or administrations != advice.proposed_administrations_per_day
    )
    if edited:
        split = clinical.split_daily_dose(drug, dose, administrations)
        advice.text = new_text
        advice.proposed_daily_dose_mg = dose
        advice.proposed_administrations_per_day = split.administrations_per_day
        advice.proposed_split_mg = [json_number(part) for part in split.parts_mg]
        if advice.ctrough_ng_ml is not None and advice.current_daily_dose_mg:
            # docs/clinical-rules.md §5: predicted Ctrough scales linearly with the daily dose.
            advice.predicted_ctrough_ng_ml = (
                advice.ctrough_ng_ml * dose / advice.current_daily_dose_mg
            ).quantize(Decimal("0.01"))
        advice.edited = True
    advice.state = Advice.State.RELEASED
    advice.released_by = actor
    advice.released_at = timezone.now()
    advice.save(
        update_fields=[
            "text", "proposed_daily_dose_mg", "proposed_administrations_per_day",
            "proposed_split_mg", "predicted_ctrough_ng_ml", "edited", "state", "released_by",
            "released_at", "updated_at",
        ]
    )  # fmt: skip
    audit.record(actor=actor, action=AuditEvent.Action.RELEASE, instance=advice, before=before)
    signals.advice_released.send(sender=Advice, advice=advice)
    return advice


# Sign-off by the physician -----------------------------------------------------------------------


def _check_signature(actor: AbstractBaseUser, password: str, advice: Advice) -> None:
    _require(actor, "advice.sign_advice", advice)
    if not password or not actor.check_password(password):
        raise ValidationError({"password": ["The password is not correct."]})


@transaction.atomic
def advice_accept(
    *,
    actor: AbstractBaseUser,
    advice: Advice,
    password: str,
    effective_date: datetime.date | None = None,
    checks_confirmed: list[str] | tuple[str, ...] = (),
    today: datetime.date | None = None,
) -> Advice:
    """The physician accepts released advice with an electronic signature (docs/workflow.md §3).

    A dose change takes effect on `effective_date` (default tomorrow) as a new DoseRegimen with
    reason `tdm_advice` linked to this advice; its post-change sample follows from the schedule.
    """
    today = today or timezone.localdate()
    effective_date = effective_date or today + datetime.timedelta(days=1)
    advice = _locked(advice)
    _check_signature(actor, password, advice)
    if advice.state != Advice.State.RELEASED:
        raise StateConflict(f"Only released advice can be signed; this one is {advice.state}.")
    missing = sorted(set(advice.checks) - set(checks_confirmed))
    if missing:
        raise ValidationError(
            {"checks_confirmed": [f"Confirm before accepting: {', '.join(missing)}."]}
        )
    if effective_date < today:
        raise ValidationError({"effective_date": ["The change cannot take effect in the past."]})
    if effective_date > today + LONGEST_DECISION_LEAD:
        latest = today + LONGEST_DECISION_LEAD
        raise ValidationError(
            {"effective_date": [f"A decision takes effect within 90 days: {latest} at the latest."]}
        )
    before = audit.snapshot(advice)
    _apply_decision(actor=actor, advice=advice, effective_date=effective_date)
    advice.state = Advice.State.ACCEPTED
    advice.decided_by = actor
    advice.decided_at = timezone.now()
    advice.checks_confirmed = sorted(set(checks_confirmed))
    advice.effective_date = effective_date
    advice.save(
        update_fields=[
            "state", "decided_by", "decided_at", "checks_confirmed", "effective_date",
            "updated_at",
        ]
    )  # fmt: skip
    audit.record(
        actor=actor,
        action=AuditEvent.Action.ACCEPT,
        instance=advice,
        before=before,
        detail="electronic signature: accepted",
    )
    signals.advice_signed.send(sender=Advice, advice=advice)
    return advice


def _apply_decision(*, actor: AbstractBaseUser, advice: Advice, effective_date: datetime.date):
    """What an accepted advice changes in the prescription (nothing for continue/resample)."""
    treatment = advice.treatment
    if advice.kind == Advice.Kind.SAMPLE:
        current = treatment.regimen_on(effective_date)
        changes = (
            advice.action in DOSE_CHANGING_ACTIONS
            and current is not None
            and (
                current.daily_dose_mg != advice.proposed_daily_dose_mg
                or current.administrations_per_day != advice.proposed_administrations_per_day
            )
        )
        if changes:
            _dose_change(actor, advice, effective_date, DoseRegimen.Reason.TDM_ADVICE)
    elif advice.action in (INTERRUPT, INTERRUPT_THEN_REDUCE):
        regimen = services.dose_regimen_create(
            actor=actor,
            treatment=treatment,
            effective_from=effective_date,
            daily_dose_mg=Decimal(0),
            administrations_per_day=advice.proposed_administrations_per_day,
            reason=DoseRegimen.Reason.INTERRUPTION,
        )
        _link_regimen(advice, regimen)
    elif advice.action == DISCONTINUE:
        services.treatment_stop(
            actor=actor,
            treatment=treatment,
            stop_date=effective_date,
            reason=f"toxicity: {advice.adverse_event.term} grade {advice.adverse_event.grade}",
        )


def _link_regimen(advice: Advice, regimen: DoseRegimen) -> None:
    """Record which dose the accepted advice prescribed (the advice owns the link)."""
    advice.dose_regimen = regimen
    advice.save(update_fields=["dose_regimen", "updated_at"])


def _dose_change(actor, advice: Advice, effective_date: datetime.date, reason: str) -> None:
    try:
        regimen = services.dose_regimen_create(
            actor=actor,
            treatment=advice.treatment,
            effective_from=effective_date,
            daily_dose_mg=advice.proposed_daily_dose_mg,
            administrations_per_day=advice.proposed_administrations_per_day,
            reason=reason,
        )
    except ValidationError as error:
        # The regimen's own checks speak of its fields; here the physician chose the date.
        messages = error.message_dict
        raise ValidationError(
            {"effective_date": messages.pop("effective_from")} | messages
            if "effective_from" in messages
            else messages
        ) from None
    _link_regimen(advice, regimen)


@transaction.atomic
def advice_reject(*, actor: AbstractBaseUser, advice: Advice, password: str, reason: str) -> Advice:
    """The physician rejects released advice with a reason and an electronic signature."""
    advice = _locked(advice)
    if not reason or not reason.strip():
        raise ValidationError({"reason": ["Give the reason for rejecting the advice."]})
    _check_signature(actor, password, advice)
    if advice.state != Advice.State.RELEASED:
        raise StateConflict(f"Only released advice can be signed; this one is {advice.state}.")
    before = audit.snapshot(advice)
    advice.state = Advice.State.REJECTED
    advice.decided_by = actor
    advice.decided_at = timezone.now()
    advice.rejection_reason = reason.strip()
    advice.save(
        update_fields=["state", "decided_by", "decided_at", "rejection_reason", "updated_at"]
    )
    audit.record(
        actor=actor,
        action=AuditEvent.Action.REJECT,
        instance=advice,
        before=before,
        detail="electronic signature: rejected",
    )
    signals.advice_signed.send(sender=Advice, advice=advice)
    return advice

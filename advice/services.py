"""The advice workflow: compute → release → accept | reject (or withdraw), and what follows
(docs/workflow.md).

Every write here is a service (STYLE): one transaction, the state it acts on locked and
checked, the audit event in the same transaction; what other apps do next (reports,
notifications) they do on the signals of `advice.signals`. A state that no longer allows the
step answers `StateConflict` (HTTP 409). `advice_pending_regimens` and
`advice_changes_prescription` are the two readings the sign-off page shares with the accept
step.
"""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef
from django.utils import timezone

from advice import inputs as advice_inputs
from advice import signals, signing
from advice.engine.case import AdviceResult
from advice.engine.case_input import advice_to_json, json_number, toxicity_advice_to_json
from advice.engine.codes import DISCONTINUE, INTERRUPT, INTERRUPT_THEN_REDUCE
from advice.engine.errors import InputError
from advice.models import OPEN_STATES, Advice
from cases import access, audit, clinical, services
from cases.errors import StateConflict
from cases.models import AdverseEvent, AuditEvent, DoseRegimen, Sample, Treatment
from tdm_site.background import BACKLOG_GRACE

logger = logging.getLogger(__name__)

# Advice answers the patient's exposure now: a change further away than this is not this advice.
LONGEST_DECISION_LEAD = datetime.timedelta(days=90)
# Toxicity actions that change the prescription when accepted (the others keep the dose).
PRESCRIBING_TOXICITY_ACTIONS = frozenset({INTERRUPT, INTERRUPT_THEN_REDUCE, DISCONTINUE})
SIGNED_STATES = (Advice.State.ACCEPTED, Advice.State.REJECTED)


def _decimal(value: object) -> Decimal | None:
    return None if value is None else Decimal(str(value))


# Computing advice --------------------------------------------------------------------------------


def _locked_sample(sample_id: int) -> Sample:
    return (
        Sample.objects.select_for_update(of=("self",))
        .select_related("treatment__drug", "treatment__patient__site")
        .get(pk=sample_id)
    )


def _advisable(sample: Sample) -> bool:
    return sample.status == Sample.Status.RESULTED and bool(sample.daily_dose_mg)


def advice_create_for_sample(*, sample_id: int) -> Advice | None:
    """Compute and store the advice on a resulted sample; running it twice creates it once.

    A newer result supersedes the unsigned advice of older samples of the same treatment; a
    result entered late, older than a sample that already has advice, is stored superseded.
    """
    with transaction.atomic():
        sample = _locked_sample(sample_id)
        if not _advisable(sample):
            return None
        # Any advice of this sample, superseded included: a sample is advised on once, and
        # again only after a correction (`advice_supersede_for_sample`).
        existing = sample.advice.order_by("-pk").first()
        if existing is not None:
            return existing
        return _advise_on_sample(
            sample,
            actor=None,
            follows=None,
            detail=f"computed from sample {sample.pk}",
        )


def sample_advice_columns(result: AdviceResult) -> dict[str, object]:
    """The columns of a sample advice that hold the engine's result."""
    return {
        "computed": advice_to_json(result),
        "action": result.action,
        "evaluable": result.evaluable,
        "reasons": list(result.reasons),
        "ctrough_ng_ml": result.ctrough_ng_ml,
        "target_ng_ml": result.target_ng_ml,
        "current_daily_dose_mg": result.current_daily_dose_mg,
        "proposed_daily_dose_mg": result.proposed_daily_dose_mg,
        "proposed_administrations_per_day": result.proposed_administrations_per_day,
        "proposed_split_mg": [json_number(part) for part in result.proposed_split_mg],
        "predicted_ctrough_ng_ml": result.predicted_ctrough_ng_ml,
        "warnings": list(result.warnings),
        "checks": list(result.checks),
        "text": result.text,
        "provisional": result.provisional,
    }


def toxicity_advice_columns(event: AdverseEvent, inputs: dict[str, object]) -> dict[str, object]:
    """The columns of the toxicity advice on an AE from its frozen inputs: the engine's result,
    and the dose to resume at (the current one when the action keeps it) split in tablets."""
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
    return {
        "computed": toxicity_advice_to_json(result),
        "action": result.action,
        "current_daily_dose_mg": current,
        "proposed_daily_dose_mg": proposed,
        "proposed_administrations_per_day": administrations,
        "proposed_split_mg": [json_number(part) for part in split],
        "warnings": list(result.warnings),
        "checks": [],
        "text": result.text,
    }


def _advise_on_sample(
    sample: Sample, *, actor: AbstractBaseUser | None, follows: Advice | None, detail: str
) -> Advice:
    """Store the engine's advice on the sample as it is now, in the caller's transaction."""
    inputs = advice_inputs.sample_advice_inputs(sample)
    result = advice_inputs.advise_on_inputs(inputs)
    treatment = sample.treatment
    live = Advice.objects.filter(treatment=treatment, kind=Advice.Kind.SAMPLE).exclude(
        state__in=[Advice.State.SUPERSEDED, Advice.State.WITHDRAWN]
    )
    newer_exists = live.filter(sample__drawn_at__gt=sample.drawn_at).exists()
    advice = Advice(
        treatment=treatment,
        kind=Advice.Kind.SAMPLE,
        sample=sample,
        state=Advice.State.SUPERSEDED if newer_exists else Advice.State.DRAFT,
        follows=follows,
        inputs=inputs,
        **sample_advice_columns(result),
    )
    try:
        with transaction.atomic():
            advice.save()
    except IntegrityError:
        # Another worker stored this sample's open advice between our check and insert.
        return sample.advice.get(state__in=OPEN_STATES)
    if not newer_exists:
        older = live.filter(state__in=OPEN_STATES, sample__drawn_at__lt=sample.drawn_at)
        superseded = list(older.select_for_update())
        for previous in superseded:
            _supersede(
                previous, actor=None, detail=f"superseded by advice {advice.pk} on a newer result"
            )
        drawn = timezone.localtime(sample.drawn_at)
        _announce(
            superseded,
            replacement=advice,
            reason=f"a newer sample, drawn {drawn:%Y-%m-%d %H:%M}, has advice of its own",
        )
    audit.record(
        actor=actor,
        actor_username="" if actor is not None else "system",
        action=AuditEvent.Action.CREATE,
        instance=advice,
        detail=f"advice {advice.action} {detail}",
    )
    if advice.state == Advice.State.DRAFT:
        signals.advice_created.send(sender=Advice, advice=advice)
    return advice


def advice_supersede_for_sample(
    *, sample: Sample, actor: AbstractBaseUser | None, reason: str | None = None
) -> Advice | None:
    """Supersede the open advice of a sample whose values changed, in the caller's transaction,
    and advise again on the sample as it is now: a sample corrected for `reason` gets new
    advice, a cancelled one (no `reason`) none.

    A released advice superseded here is announced: its physicians are told not to sign it. A
    signed advice never changes: the new advice names it in `follows` (or the signed advice its
    predecessor followed).
    """
    sample = _locked_sample(sample.pk)
    why = "cancelled" if reason is None else f"corrected ({reason})"
    history = list(Advice.objects.select_for_update().filter(sample=sample).order_by("pk"))
    follows = None
    if history:
        latest = history[-1]
        follows = latest if latest.state in SIGNED_STATES else latest.follows
    open_advice = [a for a in history if a.state in OPEN_STATES]
    for advice in open_advice:
        _supersede(advice, actor=actor, detail=f"superseded: sample {sample.pk} {why}")
    new = None
    if _advisable(sample):
        new = _advise_on_sample(
            sample,
            actor=actor,
            follows=follows,
            detail=f"computed again from sample {sample.pk} after a correction: {reason}",
        )
    _announce(open_advice, replacement=new, reason=f"its sample was {why}")
    return new


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
        advice = Advice(
            treatment=event.treatment,
            kind=Advice.Kind.TOXICITY,
            adverse_event=event,
            inputs=inputs,
            **toxicity_advice_columns(event, inputs),
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


def _supersede(advice: Advice, *, actor: AbstractBaseUser | None, detail: str) -> None:
    """Mark one open advice (locked by the caller) superseded, audited."""
    before = audit.snapshot(advice)
    Advice.objects.filter(pk=advice.pk, state__in=OPEN_STATES).update(
        state=Advice.State.SUPERSEDED, updated_at=timezone.now()
    )
    advice.refresh_from_db()
    audit.record(
        actor=actor,
        actor_username="" if actor is not None else "system",
        action=AuditEvent.Action.UPDATE,
        instance=advice,
        before=before,
        detail=detail,
    )


def _announce(superseded: list[Advice], *, replacement: Advice | None, reason: str) -> None:
    """Tell the physicians of each superseded advice that was released not to sign it."""
    for advice in superseded:
        if advice.released_at is not None:
            signals.advice_superseded.send(
                sender=Advice, advice=advice, replacement=replacement, reason=reason
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

    An edited regimen is re-derived by the engine (docs/workflow.md §2): the action, split,
    predicted Ctrough, warnings, checks and text follow it, or the edit is refused naming the
    field. Text the pharmacist wrote is kept as written. The engine's output stays in
    `computed`; the released advice is the columns.
    """
    advice = _locked(advice)
    _require(actor, "advice.release_advice", advice)
    if advice.state != Advice.State.DRAFT:
        raise StateConflict(f"Only draft advice can be released; this one is {advice.state}.")
    dose = (
        advice.proposed_daily_dose_mg if proposed_daily_dose_mg is None else proposed_daily_dose_mg
    )
    administrations = proposed_administrations_per_day or advice.proposed_administrations_per_day
    written = "" if text is None else text.strip()
    before = audit.snapshot(advice)
    computed_text = advice.text
    if (dose, administrations) != (
        advice.proposed_daily_dose_mg,
        advice.proposed_administrations_per_day,
    ):
        _rederive(advice, dose, administrations)
    if written and written != computed_text:
        advice.text = written
    advice.edited = advice.edited or before != audit.snapshot(advice)
    advice.state = Advice.State.RELEASED
    advice.released_by = actor
    advice.released_at = timezone.now()
    advice.save(
        update_fields=[
            "text", "action", "proposed_daily_dose_mg", "proposed_administrations_per_day",
            "proposed_split_mg", "predicted_ctrough_ng_ml", "warnings", "checks", "edited",
            "state", "released_by", "released_at", "updated_at",
        ]
    )  # fmt: skip
    audit.record(actor=actor, action=AuditEvent.Action.RELEASE, instance=advice, before=before)
    signals.advice_released.send(sender=Advice, advice=advice)
    return advice


def _rederive(advice: Advice, dose: Decimal, administrations: int) -> None:
    """Set the advice's columns to the engine's advice on the edited regimen."""
    if advice.kind != Advice.Kind.SAMPLE:
        field = (
            "proposed_daily_dose_mg"
            if dose != advice.proposed_daily_dose_mg
            else "proposed_administrations_per_day"
        )
        raise ValidationError(
            {
                field: [
                    "The toxicity rules set the regimen of this advice: edit its text, or "
                    "withdraw it and leave the dose to the physician."
                ]
            }
        )
    try:
        result = advice_inputs.advise_edited_on_inputs(
            advice.inputs, daily_dose_mg=dose, administrations_per_day=administrations
        )
    except InputError as error:
        raise ValidationError({error.field: [error.message]}) from None
    advice.action = result.action
    advice.proposed_daily_dose_mg = result.proposed_daily_dose_mg
    advice.proposed_administrations_per_day = result.proposed_administrations_per_day
    advice.proposed_split_mg = [json_number(part) for part in result.proposed_split_mg]
    advice.predicted_ctrough_ng_ml = result.predicted_ctrough_ng_ml
    advice.warnings = list(result.warnings)
    advice.checks = list(result.checks)
    advice.text = result.text


@transaction.atomic
def advice_withdraw(*, actor: AbstractBaseUser, advice: Advice, reason: str) -> Advice:
    """The pharmacist withdraws draft advice with a reason: it is never released, and the
    nurse and the physician read why on the advice and the treatment."""
    advice = _locked(advice)
    _require(actor, "advice.withdraw_advice", advice)
    if advice.state != Advice.State.DRAFT:
        raise StateConflict(f"Only draft advice can be withdrawn; this one is {advice.state}.")
    reason = (reason or "").strip()
    if not reason:
        raise ValidationError({"reason": ["Give the reason for withdrawing the advice."]})
    before = audit.snapshot(advice)
    advice.state = Advice.State.WITHDRAWN
    advice.withdrawal_reason = reason
    advice.save(update_fields=["state", "withdrawal_reason", "updated_at"])
    audit.record(
        actor=actor,
        action=AuditEvent.Action.UPDATE,
        instance=advice,
        before=before,
        detail=f"withdrawn by the pharmacist: {reason}",
    )
    return advice


# Sign-off by the physician -----------------------------------------------------------------------


def _check_signature(actor: AbstractBaseUser, password: str, advice: Advice) -> None:
    _require(actor, "advice.sign_advice", advice)
    signing.check(actor, password)


@signing.signed
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

    An advice whose regimen differs from the one in effect changes the prescription on
    `effective_date` (default tomorrow): the regimens of the treatment that would take effect
    on or after it are withdrawn first, then the new DoseRegimen (reason `tdm_advice` for a
    sample, an interruption for toxicity, linked to this advice) is created, or the treatment
    stops. One that changes nothing is accepted with no dose change (no effective date).
    """
    today = today or timezone.localdate()
    effective_date = effective_date or today + datetime.timedelta(days=1)
    # The treatment before the advice, in the order of every write to the treatment's records
    # (a cancellation or correction locks the treatment, then its sample's advice).
    Treatment.objects.select_for_update().filter(
        pk=Advice.objects.filter(pk=advice.pk).values("treatment_id")[:1]
    ).first()
    advice = _locked(advice)
    _check_signature(actor, password, advice)
    if advice.state != Advice.State.RELEASED:
        raise StateConflict(f"Only released advice can be signed; this one is {advice.state}.")
    missing = sorted(set(advice.checks) - set(checks_confirmed))
    if missing:
        raise ValidationError(
            {"checks_confirmed": [f"Confirm before accepting: {', '.join(missing)}."]}
        )
    drawn_on = timezone.localdate(advice.sample.drawn_at) if advice.sample else None
    if drawn_on is not None and effective_date < drawn_on:
        raise ValidationError(
            {"effective_date": [f"The change cannot take effect before the sample ({drawn_on})."]}
        )
    if effective_date < today:
        raise ValidationError({"effective_date": ["The change cannot take effect in the past."]})
    if effective_date > today + LONGEST_DECISION_LEAD:
        latest = today + LONGEST_DECISION_LEAD
        raise ValidationError(
            {"effective_date": [f"A decision takes effect within 90 days: {latest} at the latest."]}
        )
    before = audit.snapshot(advice)
    changed = _apply_decision(
        actor=actor, advice=advice, effective_date=effective_date, today=today
    )
    advice.state = Advice.State.ACCEPTED
    advice.decided_by = actor
    advice.decided_at = timezone.now()
    advice.checks_confirmed = sorted(set(checks_confirmed))
    advice.effective_date = effective_date if changed else None
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
        detail="electronic signature: accepted; "
        + (f"takes effect on {effective_date}" if changed else "no dose change"),
    )
    signals.advice_signed.send(sender=Advice, advice=advice)
    return advice


def _regimen_before(treatment: Treatment, day: datetime.date) -> DoseRegimen | None:
    """The live regimen in effect the day before `day`: what goes on unless changed."""
    earlier = [r for r in treatment.live_regimens() if r.effective_from < day]
    return earlier[-1] if earlier else None


def advice_changes_prescription(
    advice: Advice, *, treatment: Treatment, effective_date: datetime.date
) -> bool:
    """Whether accepting the advice on `effective_date` changes the prescription.

    Toxicity advice does when it interrupts or discontinues. Sample advice does when its
    regimen differs from the one it was computed on (the regimen at the draw) and from the one
    in effect before the effective date (a dose prescribed since is not prescribed twice).
    """
    if advice.kind != Advice.Kind.SAMPLE:
        return advice.action in PRESCRIBING_TOXICITY_ACTIONS
    proposed = (advice.proposed_daily_dose_mg, advice.proposed_administrations_per_day)
    at_draw = (
        advice.current_daily_dose_mg,
        advice.inputs["regimen"]["administrations_per_day"],
    )
    base = _regimen_before(treatment, effective_date)
    in_effect = (base.daily_dose_mg, base.administrations_per_day) if base else None
    return proposed not in (at_draw, in_effect)


def advice_pending_regimens(advice: Advice, *, today: datetime.date) -> list[DoseRegimen]:
    """The live regimens of the advice's treatment not yet in effect: those an acceptance that
    changes the prescription withdraws from its effective date on."""
    return [r for r in advice.treatment.live_regimens() if r.effective_from > today]


def _apply_decision(
    *,
    actor: AbstractBaseUser,
    advice: Advice,
    effective_date: datetime.date,
    today: datetime.date,
) -> bool:
    """Change the prescription as the accepted advice says; whether anything changed."""
    # Lock the treatment as every dose change does, before reading its history.
    treatment = Treatment.objects.select_for_update().get(pk=advice.treatment_id)
    if not advice_changes_prescription(advice, treatment=treatment, effective_date=effective_date):
        return False
    if advice.action == DISCONTINUE:
        event = advice.adverse_event
        with _errors_as_effective_date("stop_date"):
            services.treatment_stop(
                actor=actor,
                treatment=treatment,
                stop_date=effective_date,
                reason=f"toxicity: {event.term} grade {event.grade} (advice {advice.pk})",
            )
        return True
    base = _regimen_before(treatment, effective_date)
    interrupted = base is not None and base.daily_dose_mg == 0
    if advice.kind == Advice.Kind.SAMPLE and interrupted:
        raise StateConflict(
            f"The treatment is interrupted from {base.effective_from}: accepting this advice "
            "would resume it. Prescribe the resume first, or reject the advice."
        )
    superseded = f"superseded by advice {advice.pk} accepted on {today.isoformat()}"
    if advice.kind == Advice.Kind.SAMPLE:
        _prescribe(
            actor,
            advice,
            effective_date,
            daily_dose_mg=advice.proposed_daily_dose_mg,
            reason=DoseRegimen.Reason.TDM_ADVICE,
            withdraw_later_reason=superseded,
        )
    elif not interrupted:
        # An interruption; the physician prescribes the resume.
        _prescribe(
            actor,
            advice,
            effective_date,
            daily_dose_mg=Decimal(0),
            reason=DoseRegimen.Reason.INTERRUPTION,
            withdraw_later_reason=superseded,
        )
    else:
        # Already interrupted: it stays so, without the changes that were to end it.
        services.dose_regimens_withdraw_from(
            actor=actor, treatment=treatment, first_day=effective_date, reason=superseded
        )
    return True


@contextmanager
def _errors_as_effective_date(field: str) -> Iterator[None]:
    """The prescription's own checks speak of their field; here the physician chose the date."""
    try:
        yield
    except ValidationError as error:
        messages = error.message_dict
        if field in messages:
            messages = {"effective_date": messages.pop(field)} | messages
        raise ValidationError(messages) from None


def _prescribe(
    actor: AbstractBaseUser,
    advice: Advice,
    effective_date: datetime.date,
    *,
    daily_dose_mg: Decimal,
    reason: str,
    withdraw_later_reason: str,
) -> None:
    with _errors_as_effective_date("effective_from"):
        regimen = services.dose_regimen_create(
            actor=actor,
            treatment=advice.treatment,
            effective_from=effective_date,
            daily_dose_mg=daily_dose_mg,
            administrations_per_day=advice.proposed_administrations_per_day,
            reason=reason,
            withdraw_later_reason=withdraw_later_reason,
        )
    # The advice owns the link to the dose it prescribed.
    advice.dose_regimen = regimen
    advice.save(update_fields=["dose_regimen", "updated_at"])


@signing.signed
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

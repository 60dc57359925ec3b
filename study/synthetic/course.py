"""One treatment's history, lived through event by event (docs/synthetic-cohort.md §3).

A course starts on the day the treatment starts and moves forward in time: step-ups, adverse
events and what the physician does about them, the samples the protocol makes due
(`cases.schedule`, recomputed after every dose change), their results, the advice the engine
gives on each result (`advice.engine.rules.advise`) and its sign-off, which may prescribe a new
dose. Nothing happens at or after `Clock.cutoff` (the start of today): what would happen later
is not there yet (a result not back, advice not signed, an interruption not resumed).

The records are `writer.Row`s that carry their primary keys and timestamps; what a sample
measures is `measurement`'s, what the advice holds `advising`'s. A regimen never takes effect on
or before the day of a sample already drawn, so the dose a sample copied stays the one in
effect on its draw day.
"""

from __future__ import annotations

import datetime
import heapq
import itertools
import random
from bisect import bisect_right
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from advice.engine import ctcae, dosing, pk, toxicity
from advice.engine.codes import CONTINUE, DISCONTINUE, INTERRUPT, INTERRUPT_THEN_REDUCE, REASSESS
from advice.models import Advice
from cases import schedule
from cases.models import AdverseEvent, DoseRegimen, Sample
from cases.regimens import DoseStep

from . import advising, measurement
from . import distributions as dist
from .catalogue import Clock, DrugPlan, People
from .writer import Ids, Row

HOUR = datetime.timedelta(hours=1)
MINUTE = datetime.timedelta(minutes=1)
DAY = datetime.timedelta(days=1)


@dataclass
class Course:
    """The simulation of one treatment; `run()` fills the row lists."""

    rng: random.Random
    ids: Ids
    clock: Clock
    plan: DrugPlan
    treatment: Row
    people: People
    label: str
    regimens: list[Row] = field(default_factory=list)
    samples: list[Row] = field(default_factory=list)
    events: list[advising.KnownEvent] = field(default_factory=list)
    advice: list[advising.OpenAdvice] = field(default_factory=list)

    def __post_init__(self) -> None:
        self._heap: list[tuple[datetime.datetime, int, Callable, tuple]] = []
        self._order = itertools.count()
        self._steps: list[DoseStep] = []
        self._effective: list[datetime.date] = []
        self._due: tuple[int, list[datetime.date]] = (0, [])
        self._next: tuple[tuple, tuple | None] = ((), None)
        self._draw_plans: dict[datetime.date, tuple[int, datetime.time, bool]] = {}
        self._cursor = self.treatment.start_date
        self._last_draw_day = self.treatment.start_date
        # The moment the course has reached: nothing new may happen before it.
        self._now = self.clock.at(self.treatment.start_date, 0)
        self._stepping = False
        self._stopped = False
        self._open: advising.OpenAdvice | None = None
        self._exposure = self.plan.reference_ng_ml * self.rng.lognormvariate(
            0, dist.BETWEEN_PATIENT_SD
        )

    # The run -----------------------------------------------------------------------------------

    def run(self) -> None:
        self._start()
        cutoff = self.clock.cutoff
        while True:
            draw = self._next_draw()
            if self._heap and (draw is None or self._heap[0][0] < draw[1]):
                moment, _, handler, args = heapq.heappop(self._heap)
                if moment >= cutoff:
                    break
                self._now = moment
                handler(moment, *args)
                continue
            if draw is None or draw[1] >= cutoff:
                break
            due, moment, missed = draw
            self._cursor = due
            if not missed:
                self._now = moment
                self._draw(moment)
        self._finish()

    def _at(self, moment: datetime.datetime, handler: Callable, *args: object) -> None:
        heapq.heappush(self._heap, (moment, next(self._order), handler, args))

    def _office_time(self, day: datetime.date) -> datetime.datetime:
        return self.clock.at(day, self.rng.randrange(8, 17), self.rng.randrange(60))

    # The dose history --------------------------------------------------------------------------

    def _current(self) -> Row:
        return self.regimens[-1]

    def _add_regimen(self, row: Row) -> Row:
        self.regimens.append(row)
        self._steps.append(
            DoseStep(row.effective_from, row.daily_dose_mg, row.administrations_per_day)
        )
        self._effective.append(row.effective_from)
        return row

    def _step_on(self, day: datetime.date) -> DoseStep | None:
        """`cases.regimens.step_on` for this history, whose regimens take effect in order."""
        index = bisect_right(self._effective, day) - 1
        return self._steps[index] if index >= 0 else None

    def _regimen(
        self,
        moment: datetime.datetime,
        day: datetime.date,
        dose: Decimal,
        administrations: int,
        reason: str,
        by: int,
    ) -> Row:
        if dose > 0:
            administrations, parts = self.plan.split(dose, administrations)
        else:
            parts = []
        return Row(
            id=self.ids.next(DoseRegimen),
            treatment_id=self.treatment.id,
            effective_from=day,
            daily_dose_mg=dose,
            administrations_per_day=administrations,
            split_mg=parts,
            reason=reason,
            created_by_id=by,
            created_at=moment,
        )

    def _prescribe(
        self,
        moment: datetime.datetime,
        day: datetime.date,
        dose: Decimal,
        administrations: int,
        reason: str,
        by: int,
    ) -> Row:
        """A new live regimen from `day`, or from the first day after the latest regimen and
        the latest sample if that is later (at most two days after `moment`: every regimen
        takes effect by the day after it was prescribed)."""
        day = max(day, self._current().effective_from + DAY, self._last_draw_day + DAY)
        return self._add_regimen(self._regimen(moment, day, dose, administrations, reason, by))

    def _start(self) -> None:
        plan, treatment, rng = self.plan, self.treatment, self.rng
        level = plan.standard_index
        step_up = plan.step_up
        if step_up is not None and rng.random() < step_up.share:
            level = max(0, level - step_up.levels_below)
            self._stepping = level < plan.standard_index
        self._add_regimen(
            self._regimen(
                treatment.created_at,
                treatment.start_date,
                plan.levels[level],
                plan.facts.administrations_per_day,
                DoseRegimen.Reason.START,
                self.people.nurse,
            )
        )
        if self._stepping:
            self._at(self.clock.at(treatment.start_date + step_up.days * DAY, 9), self._step_up)
        first_event = treatment.start_date + DAY * round(
            3 + rng.expovariate(1 / dist.FIRST_EVENT_MEAN_DAYS)
        )
        self._at(self._office_time(first_event), self._adverse_event)
        stop = treatment.start_date + dist.course_days(rng) * DAY
        self._at(self.clock.at(stop, 10), self._planned_stop, dist.STOP_REASONS.draw(rng))

    # Step-up, adverse events, resumes, stops ---------------------------------------------------

    def _step_up(self, moment: datetime.datetime) -> None:
        current = self._current()
        if self._stopped or not self._stepping or current.daily_dose_mg == 0:
            return
        level = self.plan.levels.index(current.daily_dose_mg) + 1
        self._prescribe(
            moment,
            moment.date(),
            self.plan.levels[level],
            current.administrations_per_day,
            DoseRegimen.Reason.STEP_UP,
            self.people.physician,
        )
        self._stepping = level < self.plan.standard_index
        if self._stepping:
            self._at(moment + self.plan.step_up.days * DAY, self._step_up)

    def _adverse_event(self, moment: datetime.datetime) -> None:
        if self._stopped:
            return
        rng = self.rng
        onset = max(
            self.treatment.start_date, moment.date() - rng.randint(0, dist.LOGGED_WITHIN_DAYS) * DAY
        )
        term = self._free_term(onset)
        if term is not None:
            self._log_event(moment, onset, term)
        if len(self.events) < dist.MOST_EVENTS:
            gap = round(1 + rng.expovariate(1 / dist.NEXT_EVENT_MEAN_DAYS))
            self._at(self._office_time(moment.date() + gap * DAY), self._adverse_event)

    def _free_term(self, onset: datetime.date) -> ctcae.CtcaeTerm | None:
        """A CTCAE term drawn by weight that is not still going on in this treatment."""
        for _ in range(3):
            term = self.plan.terms.terms.draw(self.rng)
            if not any(
                event.row.term == term.term
                and (event.resolves_on is None or event.resolves_on >= onset)
                for event in self.events
            ):
                return term
        return None

    def _log_event(
        self, moment: datetime.datetime, onset: datetime.date, term: ctcae.CtcaeTerm
    ) -> None:
        rng = self.rng
        grade = self.plan.terms.grades[term.term].draw(rng)
        occurrence = toxicity.occurrence_number(
            term.term, onset, [(event.row.term, event.row.onset) for event in self.events]
        )
        related = rng.random() < dist.RELATED_SHARE
        if grade == 1 and rng.random() < dist.CHRONIC_SHARE:
            resolves_on = None
        else:
            resolves_on = onset + rng.randint(*dist.RESOLVED_WITHIN_DAYS[grade]) * DAY
        resolved = (
            resolves_on if resolves_on is not None and resolves_on < self.clock.today else None
        )
        recorded = max(self._office_time(resolved), moment) if resolved is not None else None
        row = Row(
            id=self.ids.next(AdverseEvent),
            treatment_id=self.treatment.id,
            term=term.term,
            meddra_code=term.meddra_code,
            grade=grade,
            onset=onset,
            resolved=resolved,
            related=related,
            occurrence=occurrence,
            created_by_id=self.people.nurse,
            created_at=moment,
            updated_at=recorded or moment,
        )
        self.events.append(advising.KnownEvent(row, resolves_on, recorded))
        rule = toxicity.toxicity_action(grade, occurrence) if related else CONTINUE
        row.action = self._act_on_event(moment, row, rule, resolves_on)

    def _act_on_event(
        self, moment: datetime.datetime, event: Row, rule: str, resolves_on: datetime.date | None
    ) -> str:
        """What the physician does about the event (the toxicity rules, mostly); its action."""
        rng = self.rng
        current = self._current()
        on_drug = current.daily_dose_mg > 0
        follows = rng.random() < dist.FOLLOWS_TOXICITY_RULE_SHARE
        if follows and rule == DISCONTINUE and self.samples:
            reason = f"toxicity: {event.term} grade {event.grade}"
            stopped = self._stop(moment, reason, days_later=1)
            return AdverseEvent.Action.DISCONTINUED if stopped else AdverseEvent.Action.NONE
        if follows and rule in (INTERRUPT, INTERRUPT_THEN_REDUCE, DISCONTINUE) and on_drug:
            interruption = self._prescribe(
                moment,
                moment.date() + DAY,
                Decimal(0),
                current.administrations_per_day,
                DoseRegimen.Reason.INTERRUPTION,
                self.people.physician,
            )
            self._stepping = False
            resume = max(
                interruption.effective_from + 7 * DAY,
                (resolves_on or interruption.effective_from + rng.randint(14, 42) * DAY)
                + rng.randint(1, 3) * DAY,
            )
            lower = dosing.level_down(self.plan.facts, current.daily_dose_mg)
            dose = lower if rule != INTERRUPT and lower is not None else current.daily_dose_mg
            self._at(self.clock.at(resume, 9), self._resume, dose, current.administrations_per_day)
            return AdverseEvent.Action.INTERRUPTED
        lower = dosing.level_down(self.plan.facts, current.daily_dose_mg) if on_drug else None
        if (
            rule == REASSESS
            and lower is not None
            and rng.random() < dist.REDUCES_AFTER_REASSESS_SHARE
        ):
            self._prescribe(
                moment,
                moment.date() + DAY,
                lower,
                current.administrations_per_day,
                DoseRegimen.Reason.TOXICITY,
                self.people.physician,
            )
            self._stepping = False
            return AdverseEvent.Action.REDUCED
        return AdverseEvent.Action.NONE

    def _resume(self, moment: datetime.datetime, dose: Decimal, administrations: int) -> None:
        if not self._stopped:
            self._prescribe(
                moment,
                moment.date(),
                dose,
                administrations,
                DoseRegimen.Reason.RESUME,
                self.people.physician,
            )

    def _planned_stop(self, moment: datetime.datetime, reason: str) -> None:
        """The end of the course; put off until the first sample has been drawn."""
        if self.samples:
            self._stop(moment, reason)
        else:
            self._at(moment + 28 * DAY, self._planned_stop, reason)

    def _stop(self, moment: datetime.datetime, reason: str, days_later: int = 0) -> bool:
        """Stop the treatment after its latest regimen took effect and on or after its latest
        sample; not when that day has not come yet. Whether it stopped."""
        if self._stopped:
            return False
        day = max(
            moment.date() + days_later * DAY,
            self._current().effective_from + DAY,
            self._last_draw_day,
        )
        if day >= self.clock.today:
            return False
        self._stopped = True
        self.treatment.stop_date = day
        self.treatment.stop_reason = reason
        self.treatment.updated_at = moment
        return True

    # Samples -----------------------------------------------------------------------------------

    def _due_dates(self) -> list[datetime.date]:
        """The protocol's due dates for the dose history so far (computed once per history)."""
        if self._due[0] != len(self._steps):
            request = schedule.request_from_doses(
                [(step.effective_from, step.daily_dose_mg) for step in self._steps],
                stop=None,
                until=self.clock.today + 7 * DAY,
            )
            self._due = (
                len(self._steps),
                [due.date for due in schedule.compute_due_dates(request)],
            )
        return self._due[1]

    def _next_draw(self) -> tuple[datetime.date, datetime.datetime, bool] | None:
        """The next due date after the last one handled, the moment its sample is drawn, and
        whether it is missed (no sample); None when nothing more is due. The answer changes
        only with the dose history, the last due date handled or a stop."""
        key = (len(self._steps), self._cursor, self._stopped, len(self.samples))
        if self._next[0] != key:
            self._next = (key, self._find_next_draw())
        return self._next[1]

    def _find_next_draw(self) -> tuple[datetime.date, datetime.datetime, bool] | None:
        if self._stopped or len(self.samples) == dist.MOST_SAMPLES:
            return None
        dates = self._due_dates()
        index = bisect_right(dates, self._cursor)
        if index == len(dates):
            return None
        due = dates[index]
        offset, time_of_day, missed = self._draw_plan(due)
        moment = None if missed else self._draw_moment(due, offset, time_of_day)
        if moment is None:
            return due, max(self.clock.at(due, 12), self._now), True
        return due, moment, False

    def _draw_plan(self, due: datetime.date) -> tuple[int, datetime.time, bool]:
        """How the sample of a due date is drawn, decided once per due date; the first due date
        is never missed."""
        if due not in self._draw_plans:
            rng = self.rng
            offset = dist.DRAW_OFFSETS.draw(rng)
            time_of_day = datetime.time(rng.randrange(8, 16), rng.randrange(60))
            missed = bool(self.samples) and rng.random() < dist.MISSED_DUE_DATE_SHARE
            self._draw_plans[due] = (offset, time_of_day, missed)
        return self._draw_plans[due]

    def _draw_moment(
        self, due: datetime.date, offset: int, time_of_day: datetime.time
    ) -> datetime.datetime | None:
        """When the sample of a due date is drawn: on the planned day if it is a weekday on
        which the patient takes the drug (in an on-period, for a cyclic schedule), else on the
        nearest such day within 3 days of the due date, and not before the moment the course
        has reached (a dose change just made moves the schedule, never the past); None if no
        day will do."""
        planned = due + offset * DAY
        candidates = sorted(
            (due + shift * DAY for shift in dist.DRAW_OFFSETS.options),
            key=lambda day: (day != planned, abs((day - due).days)),
        )
        for day in candidates:
            moment = datetime.datetime.combine(day, time_of_day, self.clock.zone)
            step = self._step_on(day)
            if (
                day.weekday() < dist.FIRST_WEEKEND_DAY
                and day > self._last_draw_day
                and moment > self._now
                and step is not None
                and step.daily_dose_mg > 0
                and not pk.is_off_cycle(self.plan.facts, self.treatment.start_date, day)
            ):
                return moment
        return None

    def _draw(self, moment: datetime.datetime) -> None:
        rng = self.rng
        day = moment.date()
        step = self._step_on(day)
        tau = 24 / step.administrations_per_day
        hours = measurement.hours_after_dose(rng, self.plan, tau)
        last_dose_at = None
        if hours is not None:
            utc = moment.astimezone(datetime.UTC) - datetime.timedelta(hours=hours)
            utc = utc.replace(minute=utc.minute - utc.minute % 5, second=0, microsecond=0)
            last_dose_at = utc.astimezone(self.clock.zone)
            hours = (moment - last_dose_at) / HOUR
        value = measurement.concentration(
            rng, self.plan, self._exposure, step.daily_dose_mg, tau, tau if hours is None else hours
        )
        created_at = moment + rng.randint(5, 180) * MINUTE
        sample = Row(
            id=self.ids.next(Sample),
            treatment_id=self.treatment.id,
            status=Sample.Status.DRAWN,
            drawn_at=moment,
            last_dose_at=last_dose_at,
            daily_dose_mg=step.daily_dose_mg,
            administrations_per_day=step.administrations_per_day,
            concentration=None,
            below_lloq=False,
            lab_accession=f"{self.label}-{len(self.samples) + 1:02d}",
            created_by_id=self.people.nurse,
            created_at=created_at,
            updated_at=created_at,
        )
        self._compute(sample)
        self.samples.append(sample)
        self._last_draw_day = day
        fate = rng.random()
        if fate < dist.CANCELLED_SHARE:
            cancelled_at = moment + rng.uniform(4, 48) * HOUR
            if cancelled_at < self.clock.cutoff:
                sample.status = Sample.Status.CANCELLED
                sample.cancel_reason = rng.choice(dist.CANCEL_REASONS)
                sample.evaluable = False  # as `sample_cancel` leaves it
                sample.updated_at = cancelled_at
        else:
            resulted_at = moment + rng.uniform(*dist.RESULT_DELAY_H) * HOUR
            if resulted_at < self.clock.cutoff:
                below_lloq = fate < dist.CANCELLED_SHARE + dist.BELOW_LLOQ_SHARE
                measurement.set_result(rng, self.plan, sample, None if below_lloq else value)
                self._compute(sample)
                sample.updated_at = resulted_at
                self._at(resulted_at + rng.randint(1, 20) * MINUTE, self._result, sample)
        if len(self.samples) == dist.MOST_SAMPLES:
            stop = day + rng.randint(7, 42) * DAY
            self._at(self.clock.at(stop, 10), self._planned_stop, dist.STOP_REASONS.draw(rng))

    def _compute(self, sample: Row) -> None:
        measurement.compute(sample, self.plan, self.treatment.start_date, self._steps)

    # Advice ------------------------------------------------------------------------------------

    def _result(self, moment: datetime.datetime, sample: Row) -> None:
        """The result is in: the engine advises; a newer result supersedes open older advice."""
        rng = self.rng
        if self._open is not None:
            self._open.superseded_at = moment
        row, result = advising.sample_advice(
            self.ids.next(Advice),
            self.treatment,
            self.plan.facts,
            self._steps,
            sample,
            self.events,
            moment,
        )
        released_at = decided_at = None
        if rng.random() >= dist.NEVER_RELEASED_SHARE:
            released_at = moment + rng.uniform(*dist.RELEASE_DELAY_H) * HOUR
            if rng.random() >= dist.NEVER_DECIDED_SHARE:
                decided_at = released_at + rng.uniform(*dist.DECISION_DELAY_H) * HOUR
        pending = advising.OpenAdvice(row, sample, result, released_at, decided_at)
        self.advice.append(pending)
        self._open = pending
        if decided_at is not None:
            self._at(decided_at, self._decide, pending)

    def _decide(self, moment: datetime.datetime, pending: advising.OpenAdvice) -> None:
        """The physician signs: most accept; an accepted new dose is prescribed from tomorrow
        (docs/workflow.md §3: only where the advice changes the prescription)."""
        if pending.superseded_at is not None:
            return
        rng, row, result, sample = self.rng, pending.row, pending.result, pending.sample
        effective = moment.date() + DAY
        proposed = (result.proposed_daily_dose_mg, result.proposed_administrations_per_day)
        at_draw = (sample.daily_dose_mg, sample.administrations_per_day)
        base = self._step_on(moment.date())
        changes = proposed not in (at_draw, (base.daily_dose_mg, base.administrations_per_day))
        pending.decided = True
        self._open = None
        row.decided_by_id = self.people.physician
        row.decided_at = row.updated_at = moment
        rejection = None
        if changes and self._stopped:
            rejection = dist.REJECT_AFTER_STOP
        elif changes and (base.daily_dose_mg == 0 or self._current().daily_dose_mg == 0):
            rejection = dist.REJECT_WHILE_INTERRUPTED
        elif changes and rng.random() < dist.REJECT_DOSE_CHANGE_SHARE:
            rejection = rng.choice(dist.REJECTION_REASONS)
        elif not changes and rng.random() < dist.REJECT_NO_CHANGE_SHARE:
            rejection = rng.choice(dist.REJECT_NO_CHANGE_REASONS)
        if rejection is not None:
            row.state = Advice.State.REJECTED
            row.rejection_reason = rejection
            return
        row.state = Advice.State.ACCEPTED
        row.checks_confirmed = list(result.checks)
        if changes:
            regimen = self._prescribe(
                moment, effective, *proposed, DoseRegimen.Reason.TDM_ADVICE, row.decided_by_id
            )
            self._stepping = False
            row.dose_regimen_id = regimen.id
            row.effective_date = regimen.effective_from

    def _finish(self) -> None:
        """Each advice in the state it has reached by the cutoff; open advice keeps the
        catalogue row in its inputs (a pharmacist editing it on release needs it)."""
        cutoff = self.clock.cutoff
        for pending in self.advice:
            row = pending.row
            released = pending.released_at is not None and pending.released_at < cutoff
            if pending.superseded_at is not None:
                row.state = Advice.State.SUPERSEDED
                row.updated_at = pending.superseded_at
                released = released and pending.released_at < pending.superseded_at
            elif not pending.decided and released:
                row.state = Advice.State.RELEASED
                row.updated_at = pending.released_at
            if released:
                row.released_by_id = self.people.pharmacist
                row.released_at = pending.released_at
            if row.state in (Advice.State.DRAFT, Advice.State.RELEASED):
                row.inputs["catalogue"] = self.plan.frozen_row

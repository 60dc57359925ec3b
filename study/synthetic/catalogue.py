"""What a course is simulated with: the clock, the people treating the patient, and each
catalogue drug prepared once per run (its facts, dose levels, splits and exposure)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field
from decimal import Decimal

from django.utils import timezone

from advice.engine import ctcae
from advice.engine.case_input import json_number
from advice.engine.catalogue import DrugFacts
from cases import clinical
from cases.forms import SUMMED_ANALYTES
from cases.models import Drug

from . import distributions as dist


@dataclass(frozen=True)
class Clock:
    """The cohort's present: everything happened before `cutoff`, the start of `today`."""

    today: datetime.date
    zone: datetime.tzinfo

    @classmethod
    def now(cls) -> Clock:
        return cls(today=timezone.localdate(), zone=timezone.get_current_timezone())

    @property
    def cutoff(self) -> datetime.datetime:
        return self.at(self.today, 0)

    def at(self, day: datetime.date, hour: int, minute: int = 0) -> datetime.datetime:
        return datetime.datetime.combine(day, datetime.time(hour, minute), self.zone)


@dataclass(frozen=True)
class People:
    """Who looks after one patient (user ids): the responsible nurse, the treating physician,
    and the pharmacist who releases the advice."""

    nurse: int
    physician: int
    pharmacist: int


@dataclass(frozen=True)
class Terms:
    """The CTCAE terms adverse events are drawn from, and each term's grades: the grades of
    `distributions.GRADE_WEIGHTS` that the term defines."""

    terms: dist.Weights[ctcae.CtcaeTerm]
    grades: dict[str, dist.Weights[int]]

    @classmethod
    def shipped(cls) -> Terms:
        weights, grades = {}, {}
        for name, weight in dist.CTCAE_TERMS.items():
            term = ctcae.find_term(name)
            if term is None:
                raise LookupError(f"{name!r} is not a term of the shipped CTCAE v5.0 file")
            weights[term] = weight
            grades[term.term] = dist.Weights(
                {
                    grade: dist.GRADE_WEIGHTS[grade]
                    for grade in ctcae.allowed_grades(term)
                    if grade in dist.GRADE_WEIGHTS
                }
            )
        return cls(dist.Weights(weights), grades)


@dataclass
class DrugPlan:
    """One catalogue row as the generator uses it."""

    drug: Drug
    facts: DrugFacts
    weight: int
    tumours: dist.Weights[dist.Tumour]
    step_up: dist.StepUp | None
    reference_ng_ml: float
    terms: Terms
    summed_analytes: tuple[str, str] | None
    _splits: dict[tuple[Decimal, int], tuple[int, list]] = field(default_factory=dict)

    @property
    def levels(self) -> tuple[Decimal, ...]:
        return self.facts.dose_levels_mg

    @property
    def standard_index(self) -> int:
        """The standard dose's place among the levels (the highest level below it if it is
        not a level)."""
        below = [
            i for i, level in enumerate(self.levels) if level <= self.facts.standard_daily_dose_mg
        ]
        return below[-1] if below else 0

    @property
    def lloq_ng_ml(self) -> float:
        return self.reference_ng_ml * dist.LLOQ_SHARE

    @property
    def half_life_h(self) -> float:
        return float(self.facts.half_life_h)

    @property
    def tmax_h(self) -> float:
        return float(self.facts.tmax_h)

    @property
    def frozen_row(self) -> dict[str, object]:
        """The catalogue row as advice freezes it in its inputs."""
        return {"version": self.drug.version, "row": self.drug.as_row()}

    def split(self, dose: Decimal, administrations: int) -> tuple[int, list]:
        """The administrations and parts (JSON numbers) a prescription of `dose` gets, as
        `cases.clinical.split_daily_dose` makes them: the number of administrations the
        services accept for that dose."""
        key = (dose, administrations)
        if key not in self._splits:
            split = clinical.split_daily_dose(self.drug, dose, administrations)
            self._splits[key] = (
                split.administrations_per_day,
                [json_number(part) for part in split.parts_mg],
            )
        count, parts = self._splits[key]
        return count, list(parts)


def reference_exposure(facts: DrugFacts) -> float | None:
    """The median Ctrough at the standard dose: the mean exposure, else the target; for an
    AUC drug that figure over 24 h (the mean concentration). None when the row gives neither."""
    figure = facts.mean_exposure if facts.mean_exposure is not None else facts.target_ng_ml
    if figure is None:
        return None
    return float(figure) / 24 if facts.metric == "auc" else float(figure)


def drug_plans() -> list[DrugPlan]:
    """Every catalogue row that gives an exposure to draw concentrations around."""
    terms = Terms.shipped()
    plans = []
    for drug in Drug.objects.order_by("name", "indication"):
        facts = drug.facts()
        reference = reference_exposure(facts)
        if reference is None:
            continue
        key = (drug.name, drug.indication)
        fallback = dist.SOLID if facts.indication_group == "solid" else dist.HAEMATOLOGICAL
        plans.append(
            DrugPlan(
                drug=drug,
                facts=facts,
                weight=dist.DRUG_WEIGHTS.get(key, dist.DEFAULT_DRUG_WEIGHT),
                tumours=dist.Weights(dist.TUMOURS.get(key, ((fallback, 1),))),
                step_up=dist.STEP_UP.get(drug.name),
                reference_ng_ml=reference,
                terms=terms,
                summed_analytes=SUMMED_ANALYTES.get(drug.name),
            )
        )
    return plans

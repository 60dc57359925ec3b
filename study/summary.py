"""The study summary of docs/study-outcomes.md read from the database: which records count, and
how.

A fixed number of set-based queries (four, five with a drug filter) whatever the size of the
cohort: the treatments, their dose histories, their resulted samples and their
`no_escalation_toxicity` advice are read as plain values and handed to the pure
`study.outcomes`, where every figure is defined.

Which records count:
- a patient counts for a drug with at least one treatment of it (every indication of the
  drug: `imatinib` is both the GIST and the CML row);
- a sample counts when its status is `resulted`; scheduled, drawn (no result yet) and
  cancelled samples are not samples of the study;
- the dose history is that of the live regimens: withdrawn and entered-in-error ones count for
  nothing;
- `advice_rejected` counts advice (on a sample or on an adverse event) in state `rejected`,
  except the advice of a sample cancelled since (a sample that is no sample of the study);
- a reason for not escalating comes from every sample advice with action
  `no_escalation_toxicity` on a resulted sample, in any state except `rejected`: the reason is
  a fact of the sample (Ctrough below target while a related AE of grade ≥ 2 was active), which
  a newer result superseding the unsigned advice does not undo, whereas a physician who
  rejected the advice did not accept toxicity as the reason. Its term is taken from the
  adverse events frozen with the advice, the very ones the advice was computed from;
- targets and standard doses are the treatment's current catalogue row (drug and indication).
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from decimal import Decimal

from django.db.models import Count, Q
from django.utils import timezone

from advice.engine.case_input import parse_adverse_event, parse_datetime
from advice.engine.codes import NO_ESCALATION_TOXICITY
from advice.engine.pk import local_date
from advice.models import Advice
from cases.models import DoseRegimen, Drug, Sample, Treatment
from study import outcomes

OVERALL = "overall"
# The catalogue metric of drugs with a Ctrough target (`DrugFacts.has_cmin_target`); the others
# are monitored by AUC (docs/clinical-rules.md §2.3).
CTROUGH_METRIC = "cmin"


class UnknownDrug(ValueError):
    """The drug is not in the catalogue."""


def study_summary(*, drug: str | None = None, as_of: datetime.date | None = None) -> dict:
    """The `study_summary` figures for one catalogue drug (by name, every indication), or for every
    treatment when `drug` is None. `as_of` (default today) ends the relative dose intensity of
    treatments that have not stopped. Raises UnknownDrug for a name not in the catalogue."""
    if drug is not None and not Drug.objects.filter(name=drug).exists():
        raise UnknownDrug(drug)
    treatments = [treatment for _name, treatment in _study_treatments(drug)]
    return outcomes.summarise(treatments, as_of=as_of or timezone.localdate())


def study_summary_by_drug(as_of: datetime.date | None = None) -> dict[str, dict]:
    """`study_summary` of every catalogue drug that has patients, by drug name in alphabetical
    order, then `"overall"` for all treatments together; read with the same few queries."""
    as_of = as_of or timezone.localdate()
    by_drug: dict[str, list[outcomes.StudyTreatment]] = defaultdict(list)
    everything = []
    for name, treatment in _study_treatments(None):
        by_drug[name].append(treatment)
        everything.append(treatment)
    summaries = {name: outcomes.summarise(by_drug[name], as_of=as_of) for name in sorted(by_drug)}
    summaries[OVERALL] = outcomes.summarise(everything, as_of=as_of)
    return summaries


def _study_treatments(drug: str | None) -> list[tuple[str, outcomes.StudyTreatment]]:
    """(drug name, treatment) of every treatment of `drug` (or all), as outcome inputs."""
    treatment_scope = {} if drug is None else {"drug__name": drug}
    related_scope = {} if drug is None else {"treatment__drug__name": drug}

    doses = defaultdict(list)
    for treatment_id, effective_from, daily_dose_mg, reason in DoseRegimen.objects.filter(
        status=DoseRegimen.Status.ACTIVE, **related_scope
    ).values_list("treatment_id", "effective_from", "daily_dose_mg", "reason"):
        doses[treatment_id].append(
            outcomes.DoseChange(
                effective_from=effective_from, daily_dose_mg=Decimal(daily_dose_mg), reason=reason
            )
        )

    samples = defaultdict(list)
    for treatment_id, drawn_at, evaluable, ctrough in Sample.objects.filter(
        status=Sample.Status.RESULTED, **related_scope
    ).values_list("treatment_id", "drawn_at", "evaluable", "estimated_ctrough_ng_ml"):
        samples[treatment_id].append(
            outcomes.SampleResult(
                # The draw date in the installation's time zone, as the sample was judged.
                drawn_on=timezone.localdate(drawn_at),
                evaluable=bool(evaluable),
                ctrough_ng_ml=Decimal(ctrough) if ctrough is not None else None,
            )
        )

    no_escalation = defaultdict(list)
    for treatment_id, inputs in (
        Advice.objects.filter(
            kind=Advice.Kind.SAMPLE,
            action=NO_ESCALATION_TOXICITY,
            sample__status=Sample.Status.RESULTED,
            **related_scope,
        )
        .exclude(state=Advice.State.REJECTED)
        .values_list("treatment_id", "inputs")
    ):
        no_escalation[treatment_id].append(_no_escalation_advice(inputs))

    rows = (
        Treatment.objects.filter(**treatment_scope)
        .annotate(
            rejected_advice=Count(
                "advice",
                filter=Q(advice__state=Advice.State.REJECTED)
                & (
                    Q(advice__sample__isnull=True)
                    | Q(advice__sample__status=Sample.Status.RESULTED)
                ),
            )
        )
        .values_list(
            "pk",
            "patient_id",
            "start_date",
            "stop_date",
            "drug__name",
            "drug__metric",
            "drug__target_ng_ml",
            "drug__standard_daily_dose_mg",
            "rejected_advice",
        )
        .order_by("pk")
    )
    return [
        (
            name,
            outcomes.StudyTreatment(
                patient_id=patient_id,
                start_date=start_date,
                stop_date=stop_date,
                standard_daily_dose_mg=Decimal(standard_daily_dose_mg),
                target_ng_ml=(
                    Decimal(target) if metric == CTROUGH_METRIC and target is not None else None
                ),
                doses=tuple(doses[pk]),
                samples=tuple(samples[pk]),
                no_escalation_advice=tuple(no_escalation[pk]),
                rejected_advice=rejected_advice,
            ),
        )
        for (
            pk,
            patient_id,
            start_date,
            stop_date,
            name,
            metric,
            target,
            standard_daily_dose_mg,
            rejected_advice,
        ) in rows
    ]


def _no_escalation_advice(inputs: dict) -> outcomes.NoEscalationAdvice:
    """The draw date and adverse events frozen with an advice (`advice.inputs`), read the way
    the advice engine read them."""
    drawn_at = parse_datetime(inputs["sample"]["drawn_at"], "sample.drawn_at")
    return outcomes.NoEscalationAdvice(
        drawn_on=local_date(drawn_at),
        adverse_events=tuple(
            parse_adverse_event(event, f"adverse_events[{index}]")
            for index, event in enumerate(inputs["adverse_events"])
        ),
    )


def ctrough_groups() -> list[outcomes.DrugGroup]:
    """Every evaluable Ctrough per catalogue row (drug and indication), for the dashboard plot.

    One query; AUC-target drugs are listed without values (they have no Ctrough target).
    """
    values: dict[int, list[Decimal]] = defaultdict(list)
    for drug_id, ctrough in Sample.objects.filter(
        status=Sample.Status.RESULTED,
        evaluable=True,
        estimated_ctrough_ng_ml__isnull=False,
        treatment__drug__metric="cmin",
    ).values_list("treatment__drug_id", "estimated_ctrough_ng_ml"):
        values[drug_id].append(ctrough)
    used = Drug.objects.filter(treatments__isnull=False).distinct().order_by("name", "indication")
    return [
        outcomes.DrugGroup(
            label=str(drug),
            target_ng_ml=drug.target_ng_ml if drug.metric == "cmin" else None,
            ctrough_ng_ml=tuple(values.get(drug.pk, ())),
        )
        for drug in used
    ]

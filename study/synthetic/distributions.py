"""What the synthetic cohort is drawn from: the drug mix, tumours, step-up practice, adverse
events, sampling habits and the people (docs/synthetic-cohort.md).

Every figure here is the generator's assumption, chosen to look like a Dutch multi-centre TDM
service; none is a study result. Drugs and CTCAE terms are looked up in the loaded catalogue and
the shipped CTCAE file, so a catalogue row not named here still takes part with weight 1.
"""

from __future__ import annotations

import itertools
import math
import random
from bisect import bisect_right
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Generic, TypeVar

from cases import roles

T = TypeVar("T")


class Weights(Generic[T]):
    """Options drawn in proportion to their weights, prepared once."""

    def __init__(self, weights: Mapping[T, float] | Iterable[tuple[T, float]]) -> None:
        pairs = list(weights.items() if isinstance(weights, Mapping) else weights)
        self.options: tuple[T, ...] = tuple(option for option, _ in pairs)
        self._cumulative = tuple(itertools.accumulate(weight for _, weight in pairs))

    def draw(self, rng: random.Random) -> T:
        return self.options[bisect_right(self._cumulative, rng.random() * self._cumulative[-1])]


# The drug mix: weight of each catalogue row (drug, indication); any other row weighs 1.
# Imatinib, pazopanib, sunitinib and sorafenib are monitored most in Dutch practice.
DRUG_WEIGHTS: dict[tuple[str, str], int] = {
    ("imatinib", "gist"): 14,
    ("imatinib", "cml"): 6,
    ("pazopanib", ""): 12,
    ("sunitinib", "intermittent"): 9,
    ("sunitinib", "continuous"): 3,
    ("sorafenib", ""): 10,
    ("everolimus", ""): 6,
    ("cabozantinib", ""): 6,
    ("osimertinib", ""): 5,
    ("palbociclib", ""): 5,
    ("lenvatinib", ""): 4,
    ("regorafenib", ""): 4,
    ("erlotinib", ""): 3,
    ("alectinib", ""): 3,
    ("dabrafenib", ""): 3,
    ("trametinib", ""): 3,
    ("nilotinib", ""): 2,
    ("dasatinib", ""): 2,
}
DEFAULT_DRUG_WEIGHT = 1


@dataclass(frozen=True)
class Tumour:
    name: str
    icd10: str


HCC = Tumour("hepatocellular carcinoma", "C22.0")
RCC = Tumour("renal cell carcinoma", "C64")
GIST = Tumour("gastrointestinal stromal tumour", "C49.4")
THYROID = Tumour("differentiated thyroid carcinoma", "C73")
MTC = Tumour("medullary thyroid carcinoma", "C73")
NSCLC = Tumour("non-small cell lung cancer", "C34.9")
MELANOMA = Tumour("melanoma", "C43.9")
BREAST = Tumour("breast cancer", "C50.9")
CRC = Tumour("colorectal cancer", "C18.9")
SARCOMA = Tumour("soft tissue sarcoma", "C49.9")
PNET = Tumour("pancreatic neuroendocrine tumour", "C25.4")
CML = Tumour("chronic myeloid leukaemia", "C92.1")
CLL = Tumour("chronic lymphocytic leukaemia", "C91.1")
MCL = Tumour("mantle cell lymphoma", "C83.1")
SOLID = Tumour("solid tumour", "")
HAEMATOLOGICAL = Tumour("haematological malignancy", "")

# The tumours each drug (by name, or by name and indication) is given for, with weights. A
# second line after progression is drawn among the drugs listed for the same tumour.
TUMOURS: dict[tuple[str, str], tuple[tuple[Tumour, int], ...]] = {
    ("afatinib", ""): ((NSCLC, 1),),
    ("alectinib", ""): ((NSCLC, 1),),
    ("axitinib", ""): ((RCC, 1),),
    ("ceritinib", ""): ((NSCLC, 1),),
    ("cabozantinib", ""): ((RCC, 6), (HCC, 3), (THYROID, 1)),
    ("cobimetinib", ""): ((MELANOMA, 1),),
    ("crizotinib", ""): ((NSCLC, 1),),
    ("dabrafenib", ""): ((MELANOMA, 4), (NSCLC, 1)),
    ("erlotinib", ""): ((NSCLC, 1),),
    ("everolimus", ""): ((BREAST, 5), (RCC, 3), (PNET, 2)),
    ("gefitinib", ""): ((NSCLC, 1),),
    ("imatinib", "gist"): ((GIST, 1),),
    ("imatinib", "cml"): ((CML, 1),),
    ("lapatinib", ""): ((BREAST, 1),),
    ("lenvatinib", ""): ((THYROID, 4), (HCC, 4), (RCC, 2)),
    ("nintedanib", ""): ((NSCLC, 1),),
    ("osimertinib", ""): ((NSCLC, 1),),
    ("palbociclib", ""): ((BREAST, 1),),
    ("pazopanib", ""): ((RCC, 7), (SARCOMA, 3)),
    ("regorafenib", ""): ((CRC, 5), (GIST, 3), (HCC, 2)),
    ("sorafenib", ""): ((HCC, 6), (RCC, 2), (THYROID, 2)),
    ("sunitinib", "intermittent"): ((RCC, 7), (GIST, 3)),
    ("sunitinib", "continuous"): ((GIST, 6), (PNET, 4)),
    ("trametinib", ""): ((MELANOMA, 4), (NSCLC, 1)),
    ("vandetanib", ""): ((MTC, 1),),
    ("vemurafenib", ""): ((MELANOMA, 1),),
    ("bosutinib", ""): ((CML, 1),),
    ("dasatinib", ""): ((CML, 1),),
    ("nilotinib", ""): ((CML, 1),),
    ("idelalisib", ""): ((CLL, 1),),
    ("ibrutinib", ""): ((CLL, 3), (MCL, 1)),
    ("ponatinib", ""): ((CML, 1),),
}
FEMALE_SHARE = 0.45
FEMALE_SHARE_BY_TUMOUR = {BREAST: 0.99}
OTHER_SEX_SHARE = 0.005
AGE_MEAN, AGE_SD, AGE_RANGE = 64, 11, (20, 92)


@dataclass(frozen=True)
class StepUp:
    """Start `levels_below` dose levels under the standard dose and go one level up every
    `days` days until the standard dose is reached, for a `share` of the patients."""

    share: float
    levels_below: int
    days: int


# Drugs started with a step-up in practice (the others start at the standard dose):
# sorafenib 400 → 600 → 800 mg/day, regorafenib 80 → 120 → 160 mg/day (ReDOS, Bekaii-Saab et
# al. 2019), cabozantinib and pazopanib in part of the patients.
STEP_UP: dict[str, StepUp] = {
    "sorafenib": StepUp(share=0.6, levels_below=2, days=14),
    "regorafenib": StepUp(share=0.6, levels_below=2, days=7),
    "cabozantinib": StepUp(share=0.3, levels_below=1, days=14),
    "pazopanib": StepUp(share=0.25, levels_below=2, days=14),
}

# Exposure: each patient's Ctrough at the standard dose is lognormal around the drug's mean
# exposure (its target where no mean is given); a dose scales it linearly, or with this power
# for drugs flagged `nonlinear_absorption`; each sample varies around it again.
BETWEEN_PATIENT_SD = 0.45
BETWEEN_SAMPLE_SD = 0.2
NONLINEAR_EXPONENT = 0.6
# The assay's lower limit of quantification, as a share of the reference exposure.
LLOQ_SHARE = 0.01

# Samples: the protocol's due dates, drawn up to 3 days either side (most on the day), on a
# weekday (Monday is 0).
DRAW_OFFSETS = Weights({-3: 1, -2: 2, -1: 3, 0: 8, 1: 3, 2: 2, 3: 1})
FIRST_WEEKEND_DAY = 5
MISSED_DUE_DATE_SHARE = 0.06  # never the first one
MOST_SAMPLES = 10
# Time after the last dose: most near the end of the interval, some mid-interval, a few with a
# problem the engine flags (drawn while still absorbing, a dose missed, no time recorded).
TIMING = Weights({"trough": 62, "mid_interval": 30, "too_early": 4, "missed_dose": 3, "unknown": 1})
TROUGH_SD_H = 0.6
# What happens to a drawn sample: cancelled before analysis, below the LLOQ (non-adherence),
# or resulted; the result arrives 18 to 96 hours after the draw.
CANCELLED_SHARE = 0.015
BELOW_LLOQ_SHARE = 0.02
RESULT_DELAY_H = (18, 96)
CANCEL_REASONS = (
    "haemolysed sample",
    "tube broken in transport",
    "wrong tube type",
    "sample not labelled",
)
SUNITINIB_PARENT_SHARE = (0.65, 0.8)

# Advice on a result: released by a pharmacist within about a day, signed by a physician within
# three days; a few are never acted on and wait until a newer result supersedes them.
NEVER_RELEASED_SHARE = 0.02
NEVER_DECIDED_SHARE = 0.04
RELEASE_DELAY_H = (0.5, 26)
DECISION_DELAY_H = (1, 70)
REJECT_DOSE_CHANGE_SHARE = 0.12
REJECT_NO_CHANGE_SHARE = 0.03
REJECTION_REASONS = (
    "The patient tolerates the current dose poorly; no increase now.",
    "Adherence is doubtful; repeat the sample first.",
    "An interacting co-medication was just started; wait for the next level.",
    "The patient prefers to keep the current dose.",
)
REJECT_NO_CHANGE_REASONS = ("Sample timing doubtful; the advice does not apply.",)
REJECT_WHILE_INTERRUPTED = "The treatment is interrupted; the dose is decided at the resume."
REJECT_AFTER_STOP = "The treatment has stopped."

# Adverse events: the first one about a month into the treatment, the next ones about every
# ten weeks; a grade by these weights among the grades the term defines (no grade 5).
FIRST_EVENT_MEAN_DAYS = 35
NEXT_EVENT_MEAN_DAYS = 70
MOST_EVENTS = 8
LOGGED_WITHIN_DAYS = 3
RELATED_SHARE = 0.85
GRADE_WEIGHTS = {1: 55, 2: 33, 3: 10, 4: 1.5}
RESOLVED_WITHIN_DAYS = {1: (7, 60), 2: (7, 45), 3: (5, 28), 4: (7, 28)}
CHRONIC_SHARE = 0.2  # of grade 1 events: never resolve
FOLLOWS_TOXICITY_RULE_SHARE = 0.85
REDUCES_AFTER_REASSESS_SHARE = 0.2
CTCAE_TERMS: dict[str, int] = {
    "Fatigue": 14,
    "Diarrhea": 14,
    "Hypertension": 9,
    "Palmar-plantar erythrodysesthesia syndrome": 8,
    "Nausea": 8,
    "Rash maculo-papular": 5,
    "Mucositis oral": 5,
    "Rash acneiform": 4,
    "Anorexia": 4,
    "Alanine aminotransferase increased": 4,
    "Neutrophil count decreased": 4,
    "Anemia": 4,
    "Platelet count decreased": 3,
    "Edema limbs": 3,
    "Hypothyroidism": 3,
    "Dysgeusia": 3,
    "Vomiting": 3,
    "Dry skin": 3,
    "Periorbital edema": 2,
    "Muscle cramp": 2,
    "Weight loss": 2,
    "Proteinuria": 2,
    "Paronychia": 2,
    "Hair color changes": 2,
    "Arthralgia": 2,
    "Headache": 2,
    "Electrocardiogram QT corrected interval prolonged": 1,
    "Pneumonitis": 1,
}

# Courses: a stop after a lognormal time on treatment (median about ten months), at most a
# while after the last of MOST_SAMPLES samples; a second line after some stops.
COURSE_MEDIAN_DAYS = 300
COURSE_SD = 0.8
SHORTEST_COURSE_DAYS = 35
STOP_REASONS = Weights(
    {
        "progressive disease": 60,
        "intolerable toxicity": 12,
        "switched to another treatment": 10,
        "patient's wish": 8,
        "patient died": 6,
        "complete response": 4,
    }
)
SECOND_LINE_AFTER = frozenset(
    {"progressive disease", "intolerable toxicity", "switched to another treatment"}
)
SECOND_LINE_SHARE = 0.4
SECOND_LINE_GAP_DAYS = (7, 35)
HISTORY_DAYS = 3 * 365
REGISTERED_DAYS_BEFORE_START = (0, 10)

# People: staff per site scale with its patients.
PATIENTS_PER_NURSE = 400
PATIENTS_PER_PHYSICIAN = 200
PATIENTS_PER_PHARMACIST = 2500
LEAST_NURSES, LEAST_PHYSICIANS, LEAST_PHARMACISTS = 2, 2, 1
FIRST_NAMES_F = (
    "Anna", "Emma", "Sophie", "Julia", "Lotte", "Eva", "Sanne", "Fleur", "Iris", "Noor",
    "Maria", "Johanna", "Cornelia", "Wilhelmina", "Hendrika", "Petra", "Ingrid", "Monique",
    "Yvonne", "Fatima", "Samira", "Linda", "Esther", "Marieke", "Anouk",
)  # fmt: skip
FIRST_NAMES_M = (
    "Jan", "Piet", "Kees", "Henk", "Willem", "Johannes", "Cornelis", "Gerrit", "Hendrik",
    "Daan", "Lucas", "Sem", "Thijs", "Bram", "Ruben", "Mohammed", "Ahmed", "Marco", "Erik",
    "Frank", "Sander", "Jeroen", "Martijn", "Bas", "Tim",
)  # fmt: skip
SURNAMES = (
    "de Jong", "Jansen", "de Vries", "van den Berg", "van Dijk", "Bakker", "Janssen",
    "Visser", "Smit", "Meijer", "de Boer", "Mulder", "de Groot", "Bos", "Vos", "Peters",
    "Hendriks", "van Leeuwen", "Dekker", "Brouwer", "de Wit", "Dijkstra", "Smits", "de Graaf",
    "van der Meer", "van der Linden", "Kok", "Jacobs", "de Haan", "Vermeulen", "van den Heuvel",
    "van der Veen", "van den Broek", "de Bruijn", "de Bruin", "van der Heijden", "Schouten",
    "van Beek", "Willems", "van Vliet",
)  # fmt: skip


def course_days(rng: random.Random) -> int:
    """The planned time on treatment in days (lognormal, at least SHORTEST_COURSE_DAYS)."""
    return max(
        SHORTEST_COURSE_DAYS, round(rng.lognormvariate(math.log(COURSE_MEDIAN_DAYS), COURSE_SD))
    )


def staff_needed(patients: int) -> dict[str, int]:
    """How many nurses, physicians and pharmacists a site with this many patients has."""
    return {
        roles.NURSE: max(LEAST_NURSES, math.ceil(patients / PATIENTS_PER_NURSE)),
        roles.PHYSICIAN: max(LEAST_PHYSICIANS, math.ceil(patients / PATIENTS_PER_PHYSICIAN)),
        roles.PHARMACIST: max(LEAST_PHARMACISTS, math.ceil(patients / PATIENTS_PER_PHARMACIST)),
    }

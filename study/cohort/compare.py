"""Comparing a file's patient with the one already in the database (docs/cohort-format.md §3).

The study number is the key of idempotency: a patient already here is compared with the file's
in the form the study-internal export writes, so free texts, which are never exported, do not
count; name and record number count where the file gives them. Stored names and record numbers
are never shown in the messages.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from study.cohort.exporter import (
    TREATMENT_LISTS,
    PatientDates,
    by_start,
    dumps,
    patient_fields_json,
    treatment_fields_json,
)
from study.cohort.records import CohortError, PatientRecord
from study.pseudonym import Pseudonymiser


def _compare_objects(
    path: str, mine: Mapping[str, Any], theirs: Mapping[str, Any]
) -> list[CohortError]:
    keys = list(mine) + [key for key in theirs if key not in mine]
    return [
        CohortError(
            f"{path}.{key}",
            f"differs from the patient already in the database ({dumps(theirs.get(key))} there)",
        )
        for key in keys
        if mine.get(key) != theirs.get(key)
    ]


def differences(path: str, mine: PatientRecord, theirs: PatientRecord) -> list[CohortError]:
    """Where the file's patient differs from the stored one, as the study-internal export writes
    both; the identifying fields are compared too where the file gives them."""
    internal = Pseudonymiser()
    found = _compare_objects(
        path, patient_fields_json(mine, internal), patient_fields_json(theirs, internal)
    )
    for key in ("name", "record_number"):
        if getattr(mine, key) and getattr(mine, key) != getattr(theirs, key):
            found.append(
                CohortError(f"{path}.{key}", "differs from the patient already in the database")
            )
    dates = PatientDates(internal, mine.study_number)
    my_treatments = by_start(mine.treatments)
    their_treatments = by_start(theirs.treatments)
    if len(my_treatments) != len(their_treatments):
        found.append(
            CohortError(
                f"{path}.treatments",
                f"the file has {len(my_treatments)} treatment(s), the patient already in the "
                f"database {len(their_treatments)}",
            )
        )
        return found
    for my_treatment, their_treatment in zip(my_treatments, their_treatments, strict=True):
        treatment_path = f"{path}.treatments[{my_treatment.index}]"
        found += _compare_objects(
            treatment_path,
            treatment_fields_json(my_treatment, dates),
            treatment_fields_json(their_treatment, dates),
        )
        for key, write, order in TREATMENT_LISTS:
            my_items = sorted(getattr(my_treatment, key), key=order)
            their_items = sorted(getattr(their_treatment, key), key=order)
            if len(my_items) != len(their_items):
                found.append(
                    CohortError(
                        f"{treatment_path}.{key}",
                        f"the file has {len(my_items)}, the patient already in the database "
                        f"{len(their_items)}",
                    )
                )
                continue
            for my_item, their_item in zip(my_items, their_items, strict=True):
                found += _compare_objects(
                    f"{treatment_path}.{key}[{my_item.index}]",
                    write(my_item, dates),
                    write(their_item, dates),
                )
    return found

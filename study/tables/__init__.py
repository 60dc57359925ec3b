"""The study data as pseudonymised tables: column definitions and streaming rows.

One definition serves the CSV and XLSX exports and the data dictionary
(`docs/data-dictionary.md`, `dictionary.csv`), so a column cannot be exported without being
described. Rows are read with `.values_list()` and `.iterator()` in id order: memory stays flat
however large the cohort is.

What is left out, and why (docs/data-dictionary.md, "Pseudonymisation": no name, record number
or full birth date):

- patients: `name` and `record_number` identify the person; only the birth year exists.
- treatments: `stop_reason`, free text that may name people, places or events.
- doses: `off_label_reason` (free text); `off_label` itself is kept.
- samples: `lab_accession` links to the laboratory's own records of the person;
  `cancel_reason` is free text.
- adverse events: `other_specify` (free text) and events entered in error (not study data;
  the clinical engine ignores them too).
- advice: `text` and `rejection_reason` (free text, may be edited by hand), who released or
  signed it (staff identities), the frozen `inputs`/`computed` copies and the PDF reports.

Keys are the study number (pseudonymised when a key is given) and the row ids of this
installation. With a key, every date and time of a patient moves by that patient's offset
(see `study.pseudonym`); without one they are the recorded dates.
"""

from study.columns import Table
from study.tables.decisions import ADVERSE_EVENTS, ADVICE
from study.tables.records import DOSES, PATIENTS, SAMPLES, TREATMENTS

TABLES: tuple[Table, ...] = (PATIENTS, TREATMENTS, DOSES, SAMPLES, ADVICE, ADVERSE_EVENTS)

__all__ = ["ADVERSE_EVENTS", "ADVICE", "DOSES", "PATIENTS", "SAMPLES", "TABLES", "TREATMENTS"]

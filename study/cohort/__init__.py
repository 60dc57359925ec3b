"""The study cohort file (docs/cohort-format.md): one JSON format out of an installation
(`export_study --format json`) and into one (`import_cohort`), so a study can move between
installations and an export can be re-imported.

- `values` and `schema`: the document's shape and its own rules, checked with pydantic;
  problems are `CohortError`s with their JSON path.
- `importer`: `validate_cohort` and `import_cohort`, which add the checks against this
  installation (catalogue, sites, patients already here) and those the services make of a record
  entered live; `bulk` writes the valid patients set-based, as the services store them;
  `compare` tells where a known patient differs from the stored one.
- `exporter`: `iter_cohort_json` and `write_cohort_json`, the pseudonymised, streamed export.
- `records`: the constants and plain records the importer and exporter share. The export reads
  `records.BATCH_SIZE` at each call; the `BATCH_SIZE` here is a copy, for reading.
"""

from study.cohort.exporter import iter_cohort_json, write_cohort_json
from study.cohort.importer import (
    CohortInvalid,
    ImportResult,
    import_cohort,
    validate_cohort,
)
from study.cohort.records import BATCH_SIZE, CohortError

__all__ = [
    "BATCH_SIZE",
    "CohortError",
    "CohortInvalid",
    "ImportResult",
    "import_cohort",
    "iter_cohort_json",
    "validate_cohort",
    "write_cohort_json",
]

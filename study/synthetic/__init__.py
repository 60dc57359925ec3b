"""A realistic synthetic cohort for benchmarks and demonstrations (docs/synthetic-cohort.md).

`generate_cohort` writes sites with their staff and patients with their treatments, dose
histories, samples, adverse events and advice, drawn from `distributions`, lived through by
`course.Course` with the clinical engine, and written set-based by `writer.Writer`.
"""

from .generator import CohortRefused, generate_cohort

__all__ = ["CohortRefused", "generate_cohort"]

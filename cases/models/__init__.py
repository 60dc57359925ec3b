"""The clinical records: sites, patients, treatments, dose regimens, samples, adverse events,
the drug catalogue and the audit trail (docs/data-dictionary.md)."""

from .adverse_events import AdverseEvent
from .audit import AuditEvent, AuditTrailIsAppendOnly
from .base import SiteScopedModel, TimestampedModel
from .drugs import Drug, DrugVersion
from .due_dates import DueDate, DueDateHorizon
from .patients import Patient
from .samples import ExtraDueDate, Sample
from .sites import Site, SiteMembership
from .treatments import DoseRegimen, Treatment

__all__ = [
    "AdverseEvent",
    "AuditEvent",
    "AuditTrailIsAppendOnly",
    "DoseRegimen",
    "Drug",
    "DrugVersion",
    "DueDate",
    "DueDateHorizon",
    "ExtraDueDate",
    "Patient",
    "Sample",
    "Site",
    "SiteMembership",
    "SiteScopedModel",
    "TimestampedModel",
    "Treatment",
]

"""The clinical data model of SPEC §2."""

from .adverse_events import AdverseEvent
from .advice import Advice
from .audit import AuditEvent, AuditTrailIsAppendOnly
from .drugs import Drug, DrugVersion
from .exports import Export
from .notifications import Notification
from .patients import Patient
from .reminders import Reminder
from .samples import Sample
from .sites import Site, SiteMembership
from .treatments import DoseRegimen, Treatment

__all__ = [
    "AdverseEvent",
    "Advice",
    "AuditEvent",
    "AuditTrailIsAppendOnly",
    "DoseRegimen",
    "Drug",
    "DrugVersion",
    "Export",
    "Notification",
    "Patient",
    "Reminder",
    "Sample",
    "Site",
    "SiteMembership",
    "Treatment",
]

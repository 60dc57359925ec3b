"""Domain errors that are not about one input field."""

from __future__ import annotations


class StateConflict(Exception):
    """The record is no longer in a state that allows this (e.g. advice already signed): 409.

    `details` are further keys of the API's 409 body (docs/api.md, "Errors")."""

    def __init__(self, message: str, **details: object) -> None:
        super().__init__(message)
        self.details = details


class DuplicateSample(StateConflict):
    """The sample is one already on record (drawn within 30 minutes of a live sample of the
    treatment, or with a lab accession number used at the site): 409 naming the other one."""

    def __init__(self, message: str, *, conflicting_sample: int) -> None:
        super().__init__(message, conflicting_sample=conflicting_sample)
        self.conflicting_sample = conflicting_sample

"""Domain errors that are not about one input field."""


class StateConflict(Exception):
    """The record is no longer in a state that allows this (e.g. advice already signed): 409."""

"""Errors of the studio app, each with a stable code."""

from wearview.errors import WearViewError


class IllegalTransition(WearViewError):
    code = "illegal_transition"


class JobStateConflict(WearViewError):
    """The job is no longer in the state the caller expected (another process moved it)."""

    code = "state_conflict"

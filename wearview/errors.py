"""Exception types shared by the apps and the workers."""


class WearViewError(Exception):
    """Base class for errors that carry a stable code and a message a person can act on."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class TransientError(WearViewError):
    """A failure that may pass on its own (timeouts, throttling, 5xx): the task is retried."""

    code = "transient"


class PermanentError(WearViewError):
    """A failure that a retry cannot fix (bad input, 4xx): the work is marked failed."""

    code = "permanent"

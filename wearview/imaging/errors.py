"""Errors raised by the imaging package, each with a stable code callers can store."""

from __future__ import annotations

EMPTY_FILE = "empty_file"
TRUNCATED = "truncated"
NOT_AN_IMAGE = "not_an_image"
SVG_REFUSED = "svg_refused"
TOO_MANY_PIXELS = "too_many_pixels"
ANIMATED = "animated"
UNSUPPORTED_MODE = "unsupported_mode"
READ_FAILED = "read_failed"
MASK_FAILED = "mask_failed"
INVALID_ARGUMENT = "invalid_argument"


class ImageError(Exception):
    """A rejected image or argument.

    `code` is a short stable string (for example `truncated`) that callers store on the
    image record. The message names the file and states what to do about it.
    """

    def __init__(self, code: str, message: str, *, file_name: str | None = None) -> None:
        self.code = code
        self.file_name = file_name
        self.message = message
        super().__init__(message)

    def __str__(self) -> str:
        return self.message

    def as_dict(self) -> dict[str, str | None]:
        """Return the error as a JSON-serialisable record."""
        return {"code": self.code, "file_name": self.file_name, "message": self.message}


class MaskError(ImageError):
    """The garment could not be separated from its background."""

    def __init__(self, message: str, *, reason: str, file_name: str | None = None) -> None:
        self.reason = reason
        super().__init__(MASK_FAILED, message, file_name=file_name)

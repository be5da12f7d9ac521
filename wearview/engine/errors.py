"""Errors raised by the engine, each with a stable code the studio can store on a job."""

from __future__ import annotations

from wearview.errors import PermanentError, TransientError

INVALID_PAYLOAD = "invalid_payload"
INVALID_INPUT = "invalid_input"
MODEL_NOT_FOUND = "model_not_found"
OUT_OF_MEMORY = "out_of_memory"
STORAGE_FAILED = "storage_failed"


class EngineError(PermanentError):
    """A generation request that a retry cannot fix; the job is marked failed with the message."""

    code = "engine_error"


class PayloadError(EngineError):
    """A task payload with a missing or invalid field. `field` names it, as a dotted path."""

    code = INVALID_PAYLOAD

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"payload field {field!r}: {message}")
        self.field = field


class EngineInputError(EngineError):
    """An image, mask, strength map or parameter the engine cannot work with."""

    code = INVALID_INPUT


class ModelNotFoundError(EngineError):
    """The configured model is neither built in, nor a local folder, nor in the local cache."""

    code = MODEL_NOT_FOUND


class GenerationOutOfMemoryError(EngineError):
    """The accelerator ran out of memory even at batch size 1 on the smallest allowed canvas."""

    code = OUT_OF_MEMORY


class StorageError(TransientError):
    """Reading or writing storage failed in a way a retry may fix."""

    code = STORAGE_FAILED

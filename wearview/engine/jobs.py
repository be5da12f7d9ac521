"""The GPU worker's service: read a job's inputs from storage, generate, store, report.

`run_generation` does all the work of the Celery task, with storage and the message sender
passed in, so it runs in tests without a broker. Candidate keys are deterministic, so a
redelivered request overwrites its own files and the studio records no duplicates.
"""

from __future__ import annotations

import io
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from wearview.engine.candidates import CandidateJob, CandidateSet, generate_candidate_sets
from wearview.engine.canvas import to_mask, to_strength
from wearview.engine.errors import (
    EngineError,
    EngineInputError,
    GenerationOutOfMemoryError,
    PayloadError,
    StorageError,
)
from wearview.engine.loading import Engine, get_engine
from wearview.engine.payloads import (
    RECORD_CANDIDATES_TASK,
    RECORD_FAILURE_TASK,
    RECORD_PROGRESS_TASK,
    GenerationRequest,
    candidate_key,
    parse_generation_request,
)

logger = logging.getLogger(__name__)

# After running out of memory at batch size 1, the canvas is shrunk by these factors in turn.
CANVAS_SCALES = (1.0, 0.75, 0.5)
PROGRESS_INTERVAL_S = 2.0

# send_task(name, args, queue): the Celery app's `send_task` fits this signature.
Sender = Callable[..., Any]


@dataclass
class _PreparedJob:
    request: GenerationRequest
    job: CandidateJob


class ProgressReporter:
    """Send the step a job is on, at most once per `interval_s` seconds."""

    def __init__(
        self,
        request: GenerationRequest,
        send_task: Sender,
        *,
        interval_s: float = PROGRESS_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.request = request
        self.send_task = send_task
        self.interval_s = interval_s
        self.clock = clock
        self.last_sent: float | None = None

    def __call__(self, step: int, total: int) -> None:
        now = self.clock()
        if self.last_sent is not None and now - self.last_sent < self.interval_s:
            return
        self.last_sent = now
        payload = {
            "job_id": self.request.job_id,
            "round": self.request.round,
            "step": step,
            "total": total,
        }
        try:
            self.send_task(RECORD_PROGRESS_TASK, args=[payload], queue="default")
        except Exception:
            # Progress is informational; a broker hiccup must not fail the generation.
            logger.warning(
                "[job %s] could not send progress %d/%d",
                self.request.job_id,
                step,
                total,
                exc_info=True,
            )


def read_inputs(request: GenerationRequest, storage) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Read the source, mask and strength map of a request from storage.

    Raises:
        EngineInputError: a key is missing or a file cannot be decoded.
        StorageError: storage failed in a way a retry may fix.
    """
    from wearview.imaging.errors import ImageError
    from wearview.imaging.load import load_image

    source_bytes = _read(storage, request.source_key, "source_key")
    try:
        source = load_image(source_bytes, name=request.source_key).rgb
    except ImageError as exc:
        raise EngineInputError(f"source_key {request.source_key!r}: {exc}") from exc

    mask_bytes = _read(storage, request.mask_key, "mask_key")
    try:
        with Image.open(io.BytesIO(mask_bytes)) as image:
            mask = to_mask(np.asarray(image))
    except (OSError, ValueError) as exc:
        raise EngineInputError(f"mask_key {request.mask_key!r} is not a readable image") from exc

    strength_bytes = _read(storage, request.strength_key, "strength_key")
    try:
        if request.strength_key.lower().endswith(".npy"):
            raw = np.load(io.BytesIO(strength_bytes), allow_pickle=False)
        else:
            with Image.open(io.BytesIO(strength_bytes)) as image:
                if image.mode not in ("I;16", "I;16B", "I;16L", "I", "L"):
                    raise EngineInputError(
                        f"strength_key {request.strength_key!r} is a {image.mode} PNG; "
                        "store a 16-bit grayscale PNG or a float .npy"
                    )
                raw = np.asarray(image)
                if raw.dtype != np.uint8:
                    raw = raw.astype(np.uint16)
    except (OSError, ValueError) as exc:
        raise EngineInputError(
            f"strength_key {request.strength_key!r} is not a readable .npy or PNG file"
        ) from exc
    return source, mask, to_strength(raw)


def _read(storage, key: str, field: str) -> bytes:
    try:
        with storage.open(key, "rb") as handle:
            return handle.read()
    except FileNotFoundError as exc:
        raise EngineInputError(f"{field} {key!r} was not found in storage") from exc
    except OSError as exc:
        raise StorageError(f"reading {field} {key!r} failed: {exc}") from exc


def write_candidate(storage, key: str, image: np.ndarray) -> str:
    """Store a candidate PNG under exactly `key`, replacing an earlier copy."""
    from django.core.files.base import ContentFile

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=False)
    # Storage backends add a suffix instead of overwriting; deleting first keeps the key.
    if storage.exists(key):
        storage.delete(key)
    saved = storage.save(key, ContentFile(buffer.getvalue()))
    if saved != key:
        raise StorageError(f"storage saved candidate {key!r} as {saved!r}")
    return saved


def build_result(request: GenerationRequest, result: CandidateSet, engine: Engine, keys) -> dict:
    """Return the JSON result the studio records for one job."""
    candidates = []
    for candidate, key in zip(result.candidates, keys, strict=True):
        candidates.append(
            {
                "key": key,
                "seed": candidate.seed,
                "garment_strength": candidate.garment_strength,
                "background_strength": candidate.background_strength,
                "scores": candidate.scores,
                "passed": candidate.passed,
                "reason": candidate.reason,
                "score": candidate.score,
                "rank": candidate.rank,
            }
        )
    return {
        "job_id": request.job_id,
        "round": request.round,
        "candidates": candidates,
        "auto_strength": result.auto_strength,
        "timings": {name: round(value, 3) for name, value in result.timings.items()}
        | {"num_inference_steps": result.num_inference_steps, "steps_run": result.steps_run},
        "model": engine.model,
        "device": str(engine.device),
    }


def send_failure(send_task: Sender, job_id: int, round_number: int, reason: str) -> None:
    """Tell the studio that a job's generation failed for good, with a readable reason."""
    payload = {"job_id": job_id, "round": round_number, "reason": reason[:1000]}
    send_task(RECORD_FAILURE_TASK, args=[payload], queue="default")


def run_generation(
    payloads: Sequence[Any],
    *,
    send_task: Sender,
    storage=None,
    engine: Engine | None = None,
    final_attempt: bool = True,
    progress_interval_s: float = PROGRESS_INTERVAL_S,
) -> list[dict]:
    """Generate candidates for each payload, batching compatible jobs, and report results.

    Invalid payloads and unreadable inputs fail their own job; the rest of the batch goes
    on. Running out of memory shrinks the batch, then the canvas, then fails the batch.

    Args:
        payloads: generation requests as sent by the studio.
        send_task: sends a Celery task by name, as `app.send_task(name, args=..., queue=...)`.
        storage: a Django storage; `default_storage` when None.
        engine: the loaded engine; this process's cached engine when None.
        final_attempt: when False, transient storage errors are raised for a retry
            instead of failing the jobs.

    Returns:
        The results sent to the studio, one per job that produced candidates.
    """
    if storage is None:
        from django.core.files.storage import default_storage

        storage = default_storage

    prepared: list[_PreparedJob] = []
    for payload in payloads:
        request = _parse_or_fail(payload, send_task)
        if request is None:
            continue
        try:
            source, mask, strength = read_inputs(request, storage)
        except StorageError as exc:
            if not final_attempt:
                raise
            _fail(send_task, request, str(exc))
            continue
        except EngineInputError as exc:
            _fail(send_task, request, str(exc))
            continue
        params = request.params
        prepared.append(
            _PreparedJob(
                request=request,
                job=CandidateJob(
                    source=source,
                    mask=mask,
                    strength=strength,
                    prompt=request.prompt,
                    negative_prompt=request.negative_prompt,
                    preset=request.preset,
                    seeds=params.seeds,
                    strength_levels=params.strength_levels,
                    steps=params.steps,
                    guidance_scale=params.guidance_scale,
                    width=params.width,
                    height=params.height,
                    on_step=ProgressReporter(request, send_task, interval_s=progress_interval_s),
                ),
            )
        )
    if not prepared:
        return []

    if engine is None:
        try:
            engine = get_engine()
        except EngineError as exc:
            for item in prepared:
                _fail(send_task, item.request, str(exc))
            return []
    prepared = _drop_invalid_jobs(engine, prepared, send_task)
    if not prepared:
        return []

    started = time.perf_counter()
    sets = _generate_with_canvas_fallback(engine, prepared, send_task)
    if sets is None:
        return []

    results = []
    for item, result in zip(prepared, sets, strict=True):
        request = item.request
        try:
            keys = [
                write_candidate(
                    storage,
                    candidate_key(request.job_id, request.round, c.seed, c.strength),
                    c.image,
                )
                for c in result.candidates
            ]
        except (StorageError, OSError) as exc:
            if not final_attempt:
                raise StorageError(f"writing candidates failed: {exc}") from exc
            _fail(send_task, request, f"writing candidates to storage failed: {exc}")
            continue
        message = build_result(request, result, engine, keys)
        send_task(RECORD_CANDIDATES_TASK, args=[message], queue="default")
        results.append(message)
        logger.info(
            "[job %s round %s] %s: %d candidates, %d passed, auto strength %s, %.1f s",
            request.job_id,
            request.round,
            request.shop_domain,
            len(result.candidates),
            sum(1 for c in result.candidates if c.passed),
            result.auto_strength,
            time.perf_counter() - started,
        )
    return results


def _parse_or_fail(payload: Any, send_task: Sender) -> GenerationRequest | None:
    try:
        return parse_generation_request(payload)
    except PayloadError as exc:
        job_id = payload.get("job_id") if isinstance(payload, dict) else None
        round_number = payload.get("round") if isinstance(payload, dict) else None
        logger.error("[job %r] invalid generation payload: %s", job_id, exc)
        if isinstance(job_id, int) and isinstance(round_number, int):
            send_failure(send_task, job_id, round_number, str(exc))
        return None


def _drop_invalid_jobs(engine, prepared, send_task) -> list[_PreparedJob]:
    """Check each job's canvas and levels alone, so one bad job cannot sink the batch."""
    from wearview.engine.candidates import levels_for
    from wearview.engine.canvas import prepare_canvas

    valid = []
    for item in prepared:
        job = item.job
        try:
            prepare_canvas(
                job.source,
                job.mask,
                job.strength,
                width=job.width,
                height=job.height,
                factor=engine.vae_scale_factor,
            )
            levels_for(job)
            if float(job.strength.max()) <= 0.0:
                raise EngineInputError(
                    "the strength map is 0 everywhere, so nothing may change; "
                    "rebuild it with a preset"
                )
        except EngineInputError as exc:
            _fail(send_task, item.request, str(exc))
            continue
        valid.append(item)
    return valid


def _generate_with_canvas_fallback(engine, prepared, send_task) -> list[CandidateSet] | None:
    jobs = [item.job for item in prepared]
    last_error: Exception | None = None
    for scale in CANVAS_SCALES:
        try:
            return generate_candidate_sets(engine, jobs, canvas_scale=scale)
        except GenerationOutOfMemoryError as exc:
            last_error = exc
            logger.warning(
                "Out of memory at canvas scale %.2f for jobs %s; trying a smaller canvas",
                scale,
                [item.request.job_id for item in prepared],
            )
        except EngineError as exc:
            for item in prepared:
                _fail(send_task, item.request, str(exc))
            return None
        except Exception as exc:
            # An unexpected error (a bug, a broken checkpoint) would otherwise leave the jobs
            # in "generating" until the stuck-job expiry; the traceback stays in the log.
            logger.exception(
                "Generation failed for jobs %s", [item.request.job_id for item in prepared]
            )
            for item in prepared:
                _fail(send_task, item.request, f"generation failed: {type(exc).__name__}: {exc}")
            return None
    reason = f"generation ran out of GPU memory even at batch size 1 and half canvas: {last_error}"
    for item in prepared:
        _fail(send_task, item.request, reason)
    return None


def _fail(send_task: Sender, request: GenerationRequest, reason: str) -> None:
    logger.error("[job %s round %s] generation failed: %s", request.job_id, request.round, reason)
    send_failure(send_task, request.job_id, request.round, reason)

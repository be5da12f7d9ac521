"""Batched candidates: generate, paste the garment back, score, rank, choose the strength.

One call turns a list of `CandidateJob`s into one `CandidateSet` per job. Rows (one per job,
seed and strength level) that share a canvas size, step count and guidance scale run as one
denoising batch, chunked to the engine's maximum batch. Each image is brought back to the
source's full resolution, the source garment is pasted back over it, and the imaging
fidelity gate scores it.

Strength levels: a level is the background strength of the candidate. The job's strength
map is scaled so its maximum equals the level, which scales the garment's low strength in
proportion. With "auto", levels run from the top of the preset's band downwards, one round
at a time. They stop at the first (strongest) level where at least half of the candidates
pass the fidelity gate, so a merchant never tunes strength by hand.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np
import torch

from wearview.engine.canvas import Canvas, prepare_canvas, restore_full_resolution
from wearview.engine.errors import EngineInputError, GenerationOutOfMemoryError
from wearview.engine.loading import Engine, configure_vae_for
from wearview.engine.payloads import AUTO

logger = logging.getLogger(__name__)

# With "auto", a level is accepted when at least this share of its candidates pass, because
# one lucky seed out of four is not enough to call a strength safe for a garment.
AUTO_MIN_PASS_FRACTION = 0.5
AUTO_LEVEL_COUNT = 4

StepCallback = Callable[[int, int], None]


@dataclass
class CandidateJob:
    """The inputs of one job. `strength_levels` is a sequence of levels or "auto"."""

    source: np.ndarray
    mask: np.ndarray
    strength: np.ndarray
    prompt: str
    negative_prompt: str
    preset: str
    seeds: Sequence[int]
    strength_levels: Sequence[float] | str
    steps: int
    guidance_scale: float
    width: int
    height: int
    feather_px: int | None = None
    on_step: StepCallback | None = None


@dataclass
class Candidate:
    """One generated, pasted-back and scored image at the source's full resolution."""

    seed: int
    strength: float
    garment_strength: float
    background_strength: float
    image: np.ndarray
    passed: bool
    reason: str | None
    scores: dict[str, float]
    score: float
    rank: int = 0


@dataclass
class CandidateSet:
    """The ranked candidates of one job, with the level auto-strength chose (or None)."""

    candidates: list[Candidate]
    auto_strength: float | None
    levels_tried: list[float]
    timings: dict[str, float] = field(default_factory=dict)
    num_inference_steps: int = 0
    steps_run: int = 0


@dataclass
class _Row:
    job_index: int
    seed: int
    level: float
    strength_canvas: np.ndarray


def levels_for(job: CandidateJob) -> list[float]:
    """Return the job's strength levels, strongest first.

    Raises:
        EngineInputError: for an unknown preset with "auto", or a level outside (0, 1].
    """
    if isinstance(job.strength_levels, str):
        if job.strength_levels != AUTO:
            raise EngineInputError(
                f'strength_levels={job.strength_levels!r} is invalid; use a list or "auto"'
            )
        from wearview.imaging.strength import PRESETS

        preset = PRESETS.get(job.preset)
        if preset is None:
            raise EngineInputError(
                f"unknown preset {job.preset!r} for auto strength; use one of "
                f"{', '.join(sorted(PRESETS))}"
            )
        low, high = preset.band
        return [round(float(level), 2) for level in np.linspace(high, low, AUTO_LEVEL_COUNT)]
    levels = sorted({round(float(level), 2) for level in job.strength_levels}, reverse=True)
    if not levels or levels[-1] <= 0.0 or levels[0] > 1.0:
        raise EngineInputError(f"strength levels {list(job.strength_levels)} must lie in (0, 1]")
    return levels


def scale_strength(strength: np.ndarray, level: float) -> np.ndarray:
    """Scale a strength map so that its maximum (the background strength) equals `level`."""
    peak = float(strength.max())
    if peak <= 0.0:
        raise EngineInputError(
            "the strength map is 0 everywhere, so nothing may change; rebuild it with a preset"
        )
    return np.clip(strength * (level / peak), 0.0, 1.0).astype(np.float32)


def rank_candidates(candidates: list[Candidate]) -> list[Candidate]:
    """Sort candidates best first and number their `rank` from 1.

    Passing candidates come first, then higher fidelity score, then higher strength, which
    generates more of the image. The seed breaks remaining ties, so the order is stable.
    """
    ordered = sorted(candidates, key=lambda c: (not c.passed, -c.score, -c.strength, c.seed))
    for rank, candidate in enumerate(ordered, start=1):
        candidate.rank = rank
    return ordered


def choose_auto_strength(candidates: Sequence[Candidate], level: float) -> bool:
    """Return True when enough of the candidates at `level` pass the fidelity gate."""
    at_level = [c for c in candidates if c.strength == level]
    if not at_level:
        return False
    passing = sum(1 for c in at_level if c.passed)
    return passing / len(at_level) >= AUTO_MIN_PASS_FRACTION


def generate_candidate_sets(
    engine: Engine, jobs: Sequence[CandidateJob], *, canvas_scale: float = 1.0
) -> list[CandidateSet]:
    """Generate, paste back, score and rank candidates for every job, batching across jobs.

    Args:
        engine: the loaded engine.
        jobs: the jobs; rows of jobs with the same canvas, steps and guidance share batches.
        canvas_scale: factor applied to each job's width and height, used to retry with a
            smaller canvas after running out of memory.

    Raises:
        EngineInputError: when a job's inputs are invalid.
        GenerationOutOfMemoryError: when even one row at a time does not fit.
    """
    started = time.perf_counter()
    factor = engine.vae_scale_factor
    canvases: list[Canvas] = []
    pending_levels: list[list[float]] = []
    for job in jobs:
        width = max(factor, int(job.width * canvas_scale))
        height = max(factor, int(job.height * canvas_scale))
        canvases.append(
            prepare_canvas(
                job.source, job.mask, job.strength, width=width, height=height, factor=factor
            )
        )
        pending_levels.append(levels_for(job))
    sets = [CandidateSet(candidates=[], auto_strength=None, levels_tried=[]) for _ in jobs]
    for job_set in sets:
        job_set.timings = {"prepare_s": time.perf_counter() - started}

    while any(pending_levels):
        rows: list[_Row] = []
        for index, job in enumerate(jobs):
            if not pending_levels[index]:
                continue
            if isinstance(job.strength_levels, str):
                round_levels = [pending_levels[index].pop(0)]
            else:
                round_levels, pending_levels[index] = pending_levels[index], []
            sets[index].levels_tried.extend(round_levels)
            for level in round_levels:
                scaled = scale_strength(canvases[index].strength_canvas, level)
                for seed in job.seeds:
                    rows.append(_Row(index, int(seed), level, scaled))

        images = _run_rows(engine, jobs, canvases, rows, sets)
        for row, image in zip(rows, images, strict=True):
            finishing = time.perf_counter()
            job_set = sets[row.job_index]
            job_set.candidates.append(
                _finish_candidate(jobs[row.job_index], canvases[row.job_index], row, image)
            )
            job_set.timings["composite_score_s"] = job_set.timings.get("composite_score_s", 0.0) + (
                time.perf_counter() - finishing
            )

        for index, job in enumerate(jobs):
            if not isinstance(job.strength_levels, str) or sets[index].auto_strength is not None:
                continue
            tried = sets[index].levels_tried
            if tried and choose_auto_strength(sets[index].candidates, tried[-1]):
                sets[index].auto_strength = tried[-1]
                pending_levels[index] = []

    for job_set in sets:
        job_set.candidates = rank_candidates(job_set.candidates)
        job_set.timings["total_s"] = time.perf_counter() - started
    return sets


def _run_rows(
    engine: Engine,
    jobs: Sequence[CandidateJob],
    canvases: Sequence[Canvas],
    rows: list[_Row],
    sets: list[CandidateSet],
) -> list[np.ndarray]:
    """Run rows grouped by canvas size, steps and guidance; return images in row order."""
    images: list[np.ndarray | None] = [None] * len(rows)
    groups: dict[tuple, list[int]] = {}
    for position, row in enumerate(rows):
        job = jobs[row.job_index]
        key = (canvases[row.job_index].padded_size, job.steps, job.guidance_scale)
        groups.setdefault(key, []).append(position)

    for (padded_size, steps, guidance), positions in groups.items():
        configure_vae_for(engine, *padded_size)
        generated = _run_group_with_oom_fallback(
            engine, jobs, canvases, [rows[p] for p in positions], steps, guidance, sets
        )
        for position, image in zip(positions, generated, strict=True):
            images[position] = image
    return images  # type: ignore[return-value]


def _run_group_with_oom_fallback(engine, jobs, canvases, rows, steps, guidance, sets):
    batch = max(1, min(engine.config.max_batch, len(rows)))
    while True:
        try:
            return _run_group(engine, jobs, canvases, rows, steps, guidance, sets, batch)
        except torch.cuda.OutOfMemoryError as exc:
            if engine.device.type == "cuda":
                torch.cuda.empty_cache()
            if batch == 1:
                height, width = canvases[rows[0].job_index].padded_size
                raise GenerationOutOfMemoryError(
                    f"out of memory generating one {width}x{height} image with "
                    f"{engine.model}: {exc}"
                ) from exc
            batch = max(1, batch // 2)
            logger.warning(
                "Out of memory with %d rows per batch; retrying with %d", batch * 2, batch
            )


def _run_group(engine, jobs, canvases, rows, steps, guidance, sets, batch):
    images: list[np.ndarray] = []
    for start in range(0, len(rows), batch):
        chunk = rows[start : start + batch]
        job_indexes = sorted({row.job_index for row in chunk})
        source_slot = {job_index: slot for slot, job_index in enumerate(job_indexes)}
        sources = torch.from_numpy(np.stack([canvases[i].image for i in job_indexes]))
        strength_maps = torch.from_numpy(np.stack([row.strength_canvas for row in chunk]))[:, None]
        listeners = [jobs[i].on_step for i in job_indexes if jobs[i].on_step is not None]

        def on_step(step: int, total: int, listeners=listeners) -> None:
            for listener in listeners:
                listener(step, total)

        started = time.perf_counter()
        result = engine.pipeline.generate_differential(
            sources=sources,
            row_sources=[source_slot[row.job_index] for row in chunk],
            strength_maps=strength_maps,
            prompts=[jobs[row.job_index].prompt for row in chunk],
            negative_prompts=[jobs[row.job_index].negative_prompt for row in chunk],
            # CPU generators, so a seed gives the same noise on every device.
            generators=[torch.Generator("cpu").manual_seed(row.seed) for row in chunk],
            num_inference_steps=steps,
            guidance_scale=guidance,
            on_step=on_step,
        )
        elapsed = time.perf_counter() - started
        for row in chunk:
            job_set = sets[row.job_index]
            job_set.timings["generate_s"] = job_set.timings.get("generate_s", 0.0) + elapsed / len(
                chunk
            )
            job_set.num_inference_steps = result.plan.num_inference_steps
            job_set.steps_run = result.plan.steps_run
        images.extend(result.images)
    return images


def _finish_candidate(job: CandidateJob, canvas: Canvas, row: _Row, image: np.ndarray):
    from wearview.imaging.composite import DEFAULT_FEATHER_PX, paste_back
    from wearview.imaging.errors import ImageError
    from wearview.imaging.fidelity import assess

    full = restore_full_resolution(image, canvas)
    feather = DEFAULT_FEATHER_PX if job.feather_px is None else job.feather_px
    pasted = paste_back(full, canvas.source, canvas.mask, feather_px=feather)
    try:
        assessment = assess(canvas.source, pasted, canvas.mask)
        passed, reason = assessment.passed, assessment.reason
        scores, score = dict(assessment.scores), float(assessment.score)
    except ImageError as exc:
        # A garment too small to score cannot pass the gate, but the image is still kept
        # so a person can judge it.
        passed, reason, scores, score = False, str(exc), {}, 0.0

    scaled = scale_strength(canvas.strength, row.level)
    garment = canvas.mask
    garment_strength = float(np.median(scaled[garment])) if garment.any() else 0.0
    background_strength = float(np.median(scaled[~garment])) if (~garment).any() else 0.0
    return Candidate(
        seed=row.seed,
        strength=row.level,
        garment_strength=round(garment_strength, 4),
        background_strength=round(background_strength, 4),
        image=pasted,
        passed=bool(passed),
        reason=reason,
        scores={name: float(value) for name, value in scores.items()},
        score=score,
    )

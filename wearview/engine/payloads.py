"""JSON contracts between the studio and the GPU worker.

The studio sends one generation request per job (or a list of them) and receives a result or
a failure. Every value is plain JSON, so the worker needs only the broker and the storage
bucket. `parse_generation_request` validates a request and names the first bad field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from wearview.engine.errors import PayloadError

AUTO = "auto"

# Bounds on request parameters. Steps above 150 buy nothing with these schedulers; canvases
# above 2048 pixels a side exceed what SD 1.x and SDXL were trained for.
MAX_STEPS = 150
MIN_SIDE = 64
MAX_SIDE = 2048
MAX_SEEDS = 16
MAX_GUIDANCE = 30.0
MAX_SEED = 2**63 - 1

RECORD_CANDIDATES_TASK = "wearview.studio.tasks.record_candidates_task"
RECORD_FAILURE_TASK = "wearview.studio.tasks.record_generation_failure_task"
RECORD_PROGRESS_TASK = "wearview.studio.tasks.record_progress_task"


@dataclass(frozen=True)
class GenerationParams:
    """Sampling parameters of one request. `strength_levels` is a tuple or the string "auto"."""

    seeds: tuple[int, ...]
    strength_levels: tuple[float, ...] | str
    steps: int
    guidance_scale: float
    width: int
    height: int


@dataclass(frozen=True)
class GenerationRequest:
    """One job's generation request, validated."""

    job_id: int
    round: int
    shop_domain: str
    source_key: str
    mask_key: str
    strength_key: str
    prompt: str
    negative_prompt: str
    preset: str
    params: GenerationParams
    raw: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)


def candidate_key(job_id: int, round_number: int, seed: int, strength: float) -> str:
    """Return the storage key of one candidate.

    The key depends only on the job, the round, the seed and the strength, so a redelivered
    task overwrites its own files instead of adding new ones.
    """
    return f"jobs/{job_id}/r{round_number}/seed{seed}-s{round(strength * 100):03d}.png"


def parse_generation_request(payload: Any) -> GenerationRequest:
    """Validate a request payload and return it as a `GenerationRequest`.

    Raises:
        PayloadError: naming the first missing or invalid field and the expected value.
    """
    if not isinstance(payload, dict):
        raise PayloadError("<payload>", f"expected a JSON object, got {type(payload).__name__}")

    job_id = _integer(payload, "job_id", minimum=1)
    round_number = _integer(payload, "round", minimum=0)
    shop_domain = _text(payload, "shop_domain")
    source_key = _storage_key(payload, "source_key")
    mask_key = _storage_key(payload, "mask_key")
    strength_key = _storage_key(payload, "strength_key")
    if not strength_key.lower().endswith((".npy", ".png")):
        raise PayloadError(
            "strength_key", f"expected a .npy or 16-bit .png file, got {strength_key!r}"
        )
    prompt = _text(payload, "prompt")
    negative_prompt = _text(payload, "negative_prompt", allow_empty=True)
    preset = _text(payload, "preset")

    params = payload.get("params")
    if not isinstance(params, dict):
        raise PayloadError("params", f"expected a JSON object, got {_describe(params)}")
    return GenerationRequest(
        job_id=job_id,
        round=round_number,
        shop_domain=shop_domain,
        source_key=source_key,
        mask_key=mask_key,
        strength_key=strength_key,
        prompt=prompt,
        negative_prompt=negative_prompt,
        preset=preset,
        params=_parse_params(params),
        raw=payload,
    )


def _parse_params(params: dict[str, Any]) -> GenerationParams:
    seeds_raw = params.get("seeds")
    if not isinstance(seeds_raw, list) or not seeds_raw:
        raise PayloadError("params.seeds", f"expected a non-empty list, got {_describe(seeds_raw)}")
    if len(seeds_raw) > MAX_SEEDS:
        raise PayloadError(
            "params.seeds", f"at most {MAX_SEEDS} seeds per request, got {len(seeds_raw)}"
        )
    seeds: list[int] = []
    for index, seed in enumerate(seeds_raw):
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
            raise PayloadError(
                f"params.seeds[{index}]", f"expected an integer in 0..2**63-1, got {seed!r}"
            )
        seeds.append(seed)
    if len(set(seeds)) != len(seeds):
        raise PayloadError("params.seeds", f"seeds must be distinct, got {seeds}")

    levels_raw = params.get("strength_levels")
    levels: tuple[float, ...] | str
    if levels_raw == AUTO:
        levels = AUTO
    elif isinstance(levels_raw, list) and levels_raw:
        parsed: list[float] = []
        for index, level in enumerate(levels_raw):
            if (
                isinstance(level, bool)
                or not isinstance(level, int | float)
                or not math.isfinite(level)
                or not 0.0 < level <= 1.0
            ):
                raise PayloadError(
                    f"params.strength_levels[{index}]",
                    f"expected a number in (0, 1], got {level!r}",
                )
            parsed.append(float(level))
        percents = [round(level * 100) for level in parsed]
        if len(set(percents)) != len(percents):
            raise PayloadError(
                "params.strength_levels",
                f"levels must differ by at least 0.01, got {parsed}",
            )
        levels = tuple(parsed)
    else:
        raise PayloadError(
            "params.strength_levels",
            f'expected a non-empty list of numbers or "auto", got {_describe(levels_raw)}',
        )

    steps = _integer(params, "steps", minimum=1, maximum=MAX_STEPS, prefix="params.")
    guidance = params.get("guidance_scale")
    if (
        isinstance(guidance, bool)
        or not isinstance(guidance, int | float)
        or not math.isfinite(guidance)
        or not 0.0 <= guidance <= MAX_GUIDANCE
    ):
        raise PayloadError(
            "params.guidance_scale", f"expected a number in 0..{MAX_GUIDANCE}, got {guidance!r}"
        )
    width = _integer(params, "width", minimum=MIN_SIDE, maximum=MAX_SIDE, prefix="params.")
    height = _integer(params, "height", minimum=MIN_SIDE, maximum=MAX_SIDE, prefix="params.")
    return GenerationParams(
        seeds=tuple(seeds),
        strength_levels=levels,
        steps=steps,
        guidance_scale=float(guidance),
        width=width,
        height=height,
    )


def _integer(
    data: dict[str, Any],
    name: str,
    *,
    minimum: int,
    maximum: int | None = None,
    prefix: str = "",
) -> int:
    value = data.get(name)
    label = prefix + name
    if isinstance(value, bool) or not isinstance(value, int):
        raise PayloadError(label, f"expected an integer, got {_describe(value)}")
    if value < minimum or (maximum is not None and value > maximum):
        upper = "" if maximum is None else f"..{maximum}"
        raise PayloadError(label, f"expected an integer in {minimum}{upper}, got {value}")
    return value


def _text(data: dict[str, Any], name: str, *, allow_empty: bool = False) -> str:
    value = data.get(name)
    if not isinstance(value, str):
        raise PayloadError(name, f"expected a string, got {_describe(value)}")
    if not allow_empty and not value.strip():
        raise PayloadError(name, "expected a non-empty string")
    return value


def _storage_key(data: dict[str, Any], name: str) -> str:
    key = _text(data, name)
    parts = key.replace("\\", "/").split("/")
    if key.startswith("/") or ".." in parts:
        raise PayloadError(name, f"expected a relative storage key without '..', got {key!r}")
    return key


def _describe(value: Any) -> str:
    if value is None:
        return "nothing (missing)"
    return f"{type(value).__name__} {value!r}"[:120]

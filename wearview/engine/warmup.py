"""Warm-up: one short generation right after loading, so the first job pays no start-up cost.

The first run on CUDA selects kernels, allocates the memory pool and, with `torch.compile`,
compiles the UNet. Doing it at worker start keeps that time out of a merchant's first job.
"""

from __future__ import annotations

import logging
import time

import numpy as np
import torch

from wearview.engine.loading import Engine

logger = logging.getLogger(__name__)


def warm_up(engine: Engine, *, steps: int = 2) -> float:
    """Run a `steps`-step generation on a small canvas and return the seconds it took."""
    started = time.perf_counter()
    side = 8 * engine.vae_scale_factor
    sources = torch.full((1, 3, side, side), 0.5)
    strength = torch.ones((1, 1, side, side))
    strength[:, :, side // 4 : 3 * side // 4, side // 4 : 3 * side // 4] = 0.0
    engine.pipeline.generate_differential(
        sources=sources,
        row_sources=[0],
        strength_maps=strength,
        prompts=["warm-up"],
        negative_prompts=None,
        generators=[torch.Generator("cpu").manual_seed(0)],
        num_inference_steps=steps,
        guidance_scale=5.0,
    )
    if engine.device.type == "cuda":
        torch.cuda.synchronize(engine.device)
    seconds = time.perf_counter() - started
    logger.info("Warmed up %s on %s in %.2f s", engine.model, engine.device, seconds)
    return float(np.round(seconds, 3))

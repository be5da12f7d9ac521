"""Fixtures for the engine tests: the tiny pipeline on the CPU and generated garment images."""

from __future__ import annotations

import numpy as np
import pytest

from wearview.engine.loading import EngineConfig, load_engine


@pytest.fixture(scope="session")
def engine(tmp_path_factory):
    config = EngineConfig(
        model="tiny", device="cpu", max_batch=8, cache_dir=tmp_path_factory.mktemp("models")
    )
    return load_engine(config)


def make_garment_scene(height: int, width: int, *, seed: int = 0):
    """Return (source RGB uint8, garment mask bool): a striped shirt shape on grey."""
    rng = np.random.default_rng(seed)
    source = np.full((height, width, 3), 200, dtype=np.uint8)
    source += rng.integers(0, 20, size=source.shape, dtype=np.uint8)
    mask = np.zeros((height, width), dtype=bool)
    top, bottom = height // 4, height * 3 // 4
    left, right = width // 4, width * 3 // 4
    mask[top:bottom, left:right] = True
    rows = np.arange(height)[:, None]
    stripes = ((rows // 4) % 2 == 0) & mask
    source[mask] = (30, 60, 160)
    source[stripes] = (240, 240, 240)
    return source, mask


@pytest.fixture
def garment_scene():
    return make_garment_scene(96, 80)

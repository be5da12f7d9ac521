import numpy as np
import pytest
from PIL import Image

from wearview.engine.canvas import (
    fit_size,
    prepare_canvas,
    restore_full_resolution,
    to_mask,
    to_rgb,
    to_strength,
)
from wearview.engine.errors import EngineInputError


def test_to_rgb_rgba_flattens_onto_white():
    rgba = np.zeros((4, 4, 4), dtype=np.uint8)
    rgba[..., 0] = 200
    rgba[:2, :, 3] = 255

    rgb = to_rgb(rgba)

    assert rgb.shape == (4, 4, 3)
    assert rgb[0, 0].tolist() == [200, 0, 0]
    assert rgb[3, 3].tolist() == [255, 255, 255]


def test_to_rgb_grayscale_repeats_channels():
    gray = np.arange(16, dtype=np.uint8).reshape(4, 4)

    rgb = to_rgb(gray)

    assert rgb.shape == (4, 4, 3)
    assert np.array_equal(rgb[..., 0], gray)
    assert np.array_equal(rgb[..., 2], gray)


def test_to_rgb_pil_modes():
    cases = {
        "LA": Image.new("LA", (3, 2), (100, 255)),
        "P": Image.new("P", (3, 2), 5),
        "I;16": Image.new("I;16", (3, 2), 65535),
        "CMYK": Image.new("CMYK", (3, 2), (0, 0, 0, 0)),
    }
    for mode, image in cases.items():
        rgb = to_rgb(image)
        assert rgb.shape == (2, 3, 3), mode
        assert rgb.dtype == np.uint8, mode
    assert to_rgb(cases["I;16"])[0, 0].tolist() == [255, 255, 255]
    assert to_rgb(cases["LA"])[0, 0].tolist() == [100, 100, 100]


def test_to_rgb_rejects_out_of_range_floats():
    with pytest.raises(EngineInputError, match="lie in \\[0, 1\\]"):
        to_rgb(np.full((2, 2, 3), 2.0))


def test_to_mask_accepts_common_encodings():
    assert to_mask(np.array([[0, 255]], dtype=np.uint8)).tolist() == [[False, True]]
    assert to_mask(np.array([[0.2, 0.9]])).tolist() == [[False, True]]
    assert to_mask(np.array([[0, 65535]], dtype=np.uint16)).tolist() == [[False, True]]


def test_to_strength_scales_16_bit():
    strength = to_strength(np.array([[0, 65535]], dtype=np.uint16))

    assert strength.dtype == np.float32
    assert strength.tolist() == [[0.0, 1.0]]


def test_to_strength_rejects_out_of_range():
    with pytest.raises(EngineInputError, match="range 0.000..1.500"):
        to_strength(np.array([[0.0, 1.5]], dtype=np.float32))


def test_fit_size_keeps_aspect():
    assert fit_size((2000, 1000), 512, 512, 8) == (512, 256)
    assert fit_size((100, 80), 400, 400, 8) == (400, 320)


def test_prepare_canvas_pads_not_crops():
    source = np.random.default_rng(0).integers(0, 255, (75, 100, 3), dtype=np.uint8)
    mask = np.zeros((75, 100), dtype=bool)
    strength = np.ones((75, 100), dtype=np.float32)

    canvas = prepare_canvas(source, mask, strength, width=100, height=75, factor=8)

    assert canvas.fit_size == (75, 100)
    assert canvas.padded_size == (80, 104)
    assert canvas.image.shape == (3, 80, 104)
    assert np.allclose(canvas.image[:, :75, :100], source.transpose(2, 0, 1) / 255.0)
    # The padding repeats the last row and column.
    assert np.array_equal(canvas.image[:, 79, :100], canvas.image[:, 74, :100])
    assert np.array_equal(canvas.image[:, :75, 103], canvas.image[:, :75, 99])


def test_restore_full_resolution_cuts_padding():
    source = np.zeros((75, 100, 3), dtype=np.uint8)
    canvas = prepare_canvas(
        source, np.zeros((75, 100)), np.ones((75, 100)), width=100, height=75, factor=8
    )
    generated = np.zeros((80, 104, 3), dtype=np.float32)
    generated[:75, :100] = 0.5
    generated[75:, :] = 1.0
    generated[:, 100:] = 1.0

    restored = restore_full_resolution(generated, canvas)

    assert restored.shape == (75, 100, 3)
    assert np.all(restored == 128)


def test_prepare_canvas_mismatched_sizes():
    with pytest.raises(EngineInputError, match="must have the same size"):
        prepare_canvas(
            np.zeros((10, 10, 3), dtype=np.uint8),
            np.zeros((10, 12)),
            np.ones((10, 10)),
            width=64,
            height=64,
            factor=8,
        )

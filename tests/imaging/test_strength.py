import numpy as np
import pytest

from wearview.imaging.errors import ImageError
from wearview.imaging.strength import PRESETS, StrengthPreset, strength_map


def square_mask(size=(200, 160)):
    mask = np.zeros(size, np.uint8)
    mask[50:150, 40:120] = 255
    return mask


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_strength_map_garment_below_lock(name):
    preset = PRESETS[name]
    mask = square_mask()

    result = strength_map(mask, preset=name)

    assert result.dtype == np.float32
    assert result.shape == mask.shape
    assert result[mask > 0].max() <= preset.lock
    assert result[100, 80] == pytest.approx(preset.garment)
    assert result[5, 5] == pytest.approx(preset.background)
    assert preset.band[0] <= result.max() <= preset.band[1]


def test_strength_map_feathered_band_rises():
    mask = square_mask()
    preset = PRESETS["restyle"]

    result = strength_map(mask, preset="restyle", feather_px=10)
    row = result[100, 120:135]

    assert np.all(np.diff(row) >= -1e-6)
    assert preset.lock < result[100, 125] < preset.background
    assert result[100, 132] == pytest.approx(preset.background)


def test_strength_map_accepts_bool_and_float_masks():
    mask = square_mask()

    from_uint8 = strength_map(mask, preset="retouch")
    from_bool = strength_map(mask > 0, preset="retouch")
    from_float = strength_map(mask.astype(np.float32) / 255.0, preset="retouch")

    assert np.array_equal(from_uint8, from_bool)
    assert np.array_equal(from_uint8, from_float)


def test_strength_map_empty_mask_is_background():
    result = strength_map(np.zeros((64, 64), np.uint8), preset="reimagine")

    assert np.all(result == np.float32(PRESETS["reimagine"].background))


def test_strength_map_unknown_preset():
    with pytest.raises(ImageError) as caught:
        strength_map(square_mask(), preset="extreme")

    assert caught.value.code == "invalid_argument"
    assert "'extreme'" in str(caught.value)
    assert "restyle" in str(caught.value)


def test_strength_map_rejects_3d_mask():
    with pytest.raises(ImageError) as caught:
        strength_map(np.zeros((10, 10, 3), np.uint8), preset="retouch")

    assert "2-D" in str(caught.value)


def test_strength_preset_lock_validated():
    with pytest.raises(ValueError, match="garment 0.3 must be between 0 and lock 0.1"):
        StrengthPreset(name="bad", band=(0.4, 0.6), background=0.5, garment=0.3, lock=0.1)


def test_strength_preset_background_in_band():
    with pytest.raises(ValueError, match="outside band"):
        StrengthPreset(name="bad", band=(0.4, 0.6), background=0.9, garment=0.05, lock=0.1)


def test_presets_match_named_bands():
    assert PRESETS["retouch"].band == (0.2, 0.4)
    assert PRESETS["restyle"].band == (0.4, 0.6)
    assert PRESETS["reimagine"].band == (0.6, 0.85)

import cv2
import numpy as np
import pytest

from tests.imaging.garments import PATTERNS, render
from wearview.imaging.composite import paste_back
from wearview.imaging.errors import ImageError
from wearview.imaging.fidelity import Thresholds, assess


def pasted_over_noise(pattern_name, seed=1):
    garment = render("tshirt", pattern_name, width=480, height=600, seed=seed, shadow=False)
    noise = np.random.default_rng(seed).integers(0, 256, garment.rgb.shape, dtype=np.uint8)
    return garment, paste_back(noise, garment.rgb, garment.mask)


def only_on_garment(candidate, changed, mask):
    result = candidate.copy()
    result[mask > 0] = changed[mask > 0]
    return result


def shift(image, pixels):
    # Diagonal, so both horizontal and vertical outlines move.
    return np.roll(image, (pixels, pixels), axis=(0, 1))


def rotate_hue(image, degrees):
    hsv = cv2.cvtColor(image, cv2.COLOR_RGB2HSV_FULL).astype(np.int32)
    hsv[:, :, 0] = (hsv[:, :, 0] + round(degrees * 256 / 360)) % 256
    return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB_FULL)


def blur(image):
    return cv2.GaussianBlur(image, (0, 0), 1.5)


@pytest.mark.parametrize("pattern_name", PATTERNS)
def test_assess_paste_back_over_noise_passes(pattern_name):
    garment, candidate = pasted_over_noise(pattern_name)

    result = assess(garment.rgb, candidate, garment.mask)

    assert result.passed, result.reason
    assert result.reason is None
    assert result.scores["ciede2000_mean"] == pytest.approx(0.0, abs=1e-6)
    # Canny looks one pixel past the garment core, where the noise shows through.
    assert result.scores["edge_agreement"] > 0.99
    assert result.scores["ssim"] > 0.98
    assert 0.5 < result.score <= 1.0


@pytest.mark.parametrize("pattern_name", PATTERNS)
def test_assess_two_pixel_shift_fails_on_edges(pattern_name):
    garment, candidate = pasted_over_noise(pattern_name)
    shifted = only_on_garment(candidate, shift(candidate, 2), garment.mask)

    result = assess(garment.rgb, shifted, garment.mask)

    assert not result.passed
    assert "edge_agreement" in result.reason


@pytest.mark.parametrize("pattern_name", PATTERNS)
def test_assess_hue_rotation_fails_on_colour(pattern_name):
    garment, candidate = pasted_over_noise(pattern_name)
    changed = only_on_garment(candidate, rotate_hue(candidate, 10), garment.mask)

    result = assess(garment.rgb, changed, garment.mask)

    assert not result.passed
    assert "ciede2000_mean" in result.reason


@pytest.mark.parametrize("pattern_name", PATTERNS)
def test_assess_blur_fails_on_detail(pattern_name):
    garment, candidate = pasted_over_noise(pattern_name)
    blurred = only_on_garment(candidate, blur(candidate), garment.mask)

    result = assess(garment.rgb, blurred, garment.mask)

    assert not result.passed
    assert "hf_energy_ratio" in result.reason


def test_assess_reason_names_value_and_threshold():
    garment, candidate = pasted_over_noise("text")
    blurred = only_on_garment(candidate, blur(candidate), garment.mask)

    result = assess(garment.rgb, blurred, garment.mask)
    ratio = result.scores["hf_energy_ratio"]

    assert f"hf_energy_ratio {ratio:.3f} is not >= 0.75" in result.reason


def test_assess_ranks_better_candidate_higher():
    garment, candidate = pasted_over_noise("checks")
    worse = only_on_garment(candidate, rotate_hue(candidate, 10), garment.mask)

    good = assess(garment.rgb, candidate, garment.mask)
    bad = assess(garment.rgb, worse, garment.mask)

    assert good.score > bad.score


def test_assess_seam_halo_fails():
    garment, candidate = pasted_over_noise("logo")
    outside = cv2.distanceTransform((garment.mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
    haloed = candidate.copy()
    haloed[(outside > 0) & (outside <= 4)] = 255

    result = assess(garment.rgb, haloed, garment.mask)

    assert not result.passed
    assert "seam" in result.reason


def test_assess_shape_mismatch():
    garment, candidate = pasted_over_noise("logo")

    with pytest.raises(ImageError) as caught:
        assess(garment.rgb, candidate[:-1], garment.mask)

    assert caught.value.code == "invalid_argument"


def test_assess_tiny_mask_rejected():
    garment, candidate = pasted_over_noise("logo")
    mask = np.zeros_like(garment.mask)
    mask[10:14, 10:14] = 255

    with pytest.raises(ImageError, match="garment core has 0 pixels"):
        assess(garment.rgb, candidate, mask)


def test_assess_as_dict_is_json_ready():
    import json

    garment, candidate = pasted_over_noise("stripes")

    record = assess(garment.rgb, candidate, garment.mask, thresholds=Thresholds()).as_dict()

    assert json.loads(json.dumps(record))["passed"] is True


def test_paste_back_keeps_garment_core_exact():
    garment, candidate = pasted_over_noise("stripes")
    inside = cv2.distanceTransform((garment.mask > 0).astype(np.uint8), cv2.DIST_L2, 5)
    core = inside > 4

    assert np.array_equal(candidate[core], garment.rgb[core])


def test_paste_back_leaves_far_background_alone():
    garment = render("dress", "logo", width=480, height=600, shadow=False)
    generated = np.full_like(garment.rgb, 90)

    result = paste_back(generated, garment.rgb, garment.mask)

    assert np.array_equal(result[:10, :10], generated[:10, :10])


def test_paste_back_tone_match_moves_seam_towards_garment():
    garment = render("dress", "checks", width=480, height=600, shadow=False)
    generated = np.full_like(garment.rgb, 40)
    outside = cv2.distanceTransform((garment.mask == 0).astype(np.uint8), cv2.DIST_L2, 5)
    near = (outside > 0) & (outside <= 2)

    matched = paste_back(generated, garment.rgb, garment.mask, tone_match=True)
    plain = paste_back(generated, garment.rgb, garment.mask, tone_match=False)

    garment_mean = garment.rgb[garment.mask > 0].mean()
    assert abs(matched[near].mean() - garment_mean) < abs(plain[near].mean() - garment_mean)


def test_paste_back_size_mismatch():
    garment = render("dress", "logo", width=480, height=600)

    with pytest.raises(ImageError, match="Resize the generated image"):
        paste_back(garment.rgb[:-2], garment.rgb, garment.mask)

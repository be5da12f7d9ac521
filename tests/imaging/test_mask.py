import cv2
import numpy as np
import pytest

from tests.imaging.garments import PATTERNS, SHAPES, iou, render
from wearview.imaging.errors import ImageError, MaskError
from wearview.imaging.load import LoadedImage, load_image
from wearview.imaging.mask import garment_mask


def loaded(rgb, alpha=None):
    height, width = rgb.shape[:2]
    return LoadedImage(rgb=rgb, alpha=alpha, width=width, height=height, format="PNG")


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("pattern_name", PATTERNS)
def test_garment_mask_iou_on_generated(shape, pattern_name):
    garment = render(shape, pattern_name, width=480, height=600, seed=5)

    result = garment_mask(loaded(garment.rgb))

    assert iou(result.mask, garment.mask) >= 0.95
    assert result.method == "background_model"


@pytest.mark.parametrize("shape", ["tshirt", "dress", "tank_top"])
def test_garment_mask_removes_hanger(shape):
    garment = render(shape, "logo", width=480, height=600, seed=2, hanger=True)

    result = garment_mask(loaded(garment.rgb))

    assert iou(result.mask, garment.mask) >= 0.95
    top_rows = garment.mask.any(axis=1).argmax()
    assert not result.mask[: top_rows - 4].any()


def test_garment_mask_keeps_thin_straps():
    garment = render("tank_top", "checks", width=480, height=600, seed=4)
    strap_rows = slice(round(600 * 0.18), round(600 * 0.30))

    result = garment_mask(loaded(garment.rgb))
    kept = (result.mask[strap_rows] > 0) & (garment.mask[strap_rows] > 0)

    assert kept.sum() >= 0.9 * (garment.mask[strap_rows] > 0).sum()


def test_garment_mask_white_background():
    garment = render("trousers", "checks", width=480, height=600, background=(250, 250, 250))

    result = garment_mask(loaded(garment.rgb))

    assert iou(result.mask, garment.mask) >= 0.95


def test_garment_mask_fills_small_holes():
    garment = render("dress", "logo", width=480, height=600, seed=1, shadow=False)
    photo = garment.rgb.copy()
    # A background-coloured button inside the dress must not become a hole.
    cv2.circle(photo, (240, 300), 6, (208, 209, 212), -1)

    result = garment_mask(loaded(photo))

    assert result.mask[300, 240] == 255


def test_garment_mask_uses_alpha():
    garment = render("dress", "stripes", width=240, height=300, shadow=False)
    alpha = garment.mask.copy()

    result = garment_mask(loaded(garment.rgb, alpha=alpha))

    assert result.method == "alpha"
    assert iou(result.mask, garment.mask) >= 0.98


def test_garment_mask_textured_background_rejected():
    rng = np.random.default_rng(3)
    photo = rng.integers(0, 256, (300, 240, 3), dtype=np.uint8)

    with pytest.raises(MaskError) as caught:
        garment_mask(loaded(photo))

    assert caught.value.reason == "textured_background"
    assert caught.value.code == "mask_failed"
    assert isinstance(caught.value, ImageError)
    assert "plain background" in str(caught.value)


def test_garment_mask_empty_photo_rejected():
    photo = np.full((300, 240, 3), 220, np.uint8)

    with pytest.raises(MaskError) as caught:
        garment_mask(loaded(photo))

    assert caught.value.reason == "no_garment"


def test_garment_mask_close_up_rejected():
    photo = render("tshirt", "checks", width=480, height=600).rgb[200:400, 200:300]

    with pytest.raises(MaskError) as caught:
        garment_mask(loaded(np.ascontiguousarray(photo)))

    assert caught.value.reason in {"fills_frame", "textured_background"}


def test_garment_mask_bbox_matches_mask():
    garment = render("trousers", "text", width=480, height=600)

    result = garment_mask(loaded(garment.rgb))
    x, y, width, height = result.bbox
    ys, xs = np.nonzero(result.mask)

    assert (x, y) == (xs.min(), ys.min())
    assert (x + width - 1, y + height - 1) == (xs.max(), ys.max())


def test_garment_mask_from_loaded_png(tmp_path):
    from PIL import Image

    garment = render("tshirt", "logo", width=480, height=600)
    path = tmp_path / "shirt.png"
    Image.fromarray(garment.rgb).save(path)

    result = garment_mask(load_image(path))

    assert iou(result.mask, garment.mask) >= 0.95


def test_garment_mask_white_on_white_rejected():
    garment = render("tshirt", "logo", width=480, height=600, shadow=False)
    photo = garment.rgb.copy()
    photo[garment.mask > 0] = (209, 210, 212)
    # Only the print, about 1 % of the photo, differs from the backdrop.
    cv2.circle(photo, (240, 300), 30, (20, 20, 20), -1)

    with pytest.raises(MaskError) as caught:
        garment_mask(loaded(photo))

    assert caught.value.reason == "low_contrast"
    assert "contrasting background" in str(caught.value)


@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 50)])
def test_garment_mask_tiny_image_rejected(height, width):
    photo = np.full((height, width, 3), 230, np.uint8)
    photo[height // 2, width // 2] = (200, 30, 30)

    with pytest.raises(MaskError):
        garment_mask(loaded(photo))

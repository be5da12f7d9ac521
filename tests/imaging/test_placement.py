import numpy as np
import pytest

from tests.imaging.garments import render
from wearview.imaging.category import CATEGORIES
from wearview.imaging.errors import ImageError
from wearview.imaging.placement import PLACEMENT_BOXES, place_garment


@pytest.fixture(scope="module")
def shirt():
    return render("tshirt", "stripes", width=480, height=600)


@pytest.mark.parametrize("category", CATEGORIES)
def test_place_garment_inside_category_box(shirt, category):
    result = place_garment(shirt.rgb, shirt.mask, category=category)
    left, top, right, bottom = PLACEMENT_BOXES[category]
    x, y, width, height = result.box

    assert result.canvas.shape == (960, 768, 3)
    assert result.mask.shape == (960, 768)
    assert x >= round(left * 768) - 1
    assert x + width <= round(right * 768) + 1
    assert y == round(top * 960)
    assert y + height <= round(bottom * 960) + 1


def test_place_garment_mask_matches_pixels(shirt):
    result = place_garment(shirt.rgb, shirt.mask, category="top")
    ys, xs = np.nonzero(result.mask)
    x, y, width, height = result.box

    assert (xs.min(), ys.min()) == (x, y)
    assert xs.max() == x + width - 1
    # The garment's red stripes appear only on the garment.
    red = (result.canvas[:, :, 0] > 180) & (result.canvas[:, :, 1] < 60)
    assert red.any()
    assert not (red & (result.mask == 0)).any()


def test_place_garment_keeps_aspect_ratio(shirt):
    result = place_garment(shirt.rgb, shirt.mask, category="dress")
    ys, xs = np.nonzero(shirt.mask)
    source_ratio = (ys.max() - ys.min() + 1) / (xs.max() - xs.min() + 1)

    _, _, width, height = result.box

    assert height / width == pytest.approx(source_ratio, rel=0.02)


def test_place_garment_bottom_below_top(shirt):
    top = place_garment(shirt.rgb, shirt.mask, category="top")
    bottom = place_garment(shirt.rgb, shirt.mask, category="bottom")

    assert bottom.box[1] > top.box[1]


def test_place_garment_custom_size(shirt):
    result = place_garment(shirt.rgb, shirt.mask, category="top", width=512, height=640)

    assert result.canvas.shape == (640, 512, 3)


@pytest.mark.parametrize(("width", "height"), [(700, 960), (768, 1000), (0, 960)])
def test_place_garment_rejects_size(shirt, width, height):
    with pytest.raises(ImageError, match="multiple of 64"):
        place_garment(shirt.rgb, shirt.mask, category="top", width=width, height=height)


def test_place_garment_rejects_category(shirt):
    with pytest.raises(ImageError, match="unknown category 'hat'"):
        place_garment(shirt.rgb, shirt.mask, category="hat")


def test_place_garment_rejects_empty_mask(shirt):
    with pytest.raises(ImageError, match="mask is empty"):
        place_garment(shirt.rgb, np.zeros_like(shirt.mask), category="top")


def test_place_garment_repeatable(shirt):
    first = place_garment(shirt.rgb, shirt.mask, category="top", seed=3)
    second = place_garment(shirt.rgb, shirt.mask, category="top", seed=3)

    assert np.array_equal(first.canvas, second.canvas)

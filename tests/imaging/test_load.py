import numpy as np
import pytest

from tests.imaging.make_corpus import CASES, gradient
from wearview.imaging.errors import ImageError
from wearview.imaging.load import NEUTRAL_BACKGROUND, load_image

REJECTED = sorted(name for name, code in CASES.items() if code is not None)
ACCEPTED = sorted(name for name, code in CASES.items() if code is None)


@pytest.mark.parametrize("name", REJECTED)
def test_load_image_rejects_with_code(corpus, name):
    with pytest.raises(ImageError) as caught:
        load_image(corpus[name])

    assert caught.value.code == CASES[name]
    assert name in str(caught.value)
    assert caught.value.file_name == name


@pytest.mark.parametrize("name", ACCEPTED)
def test_load_image_normalises_to_rgb(corpus, name):
    image = load_image(corpus[name])

    assert image.rgb.dtype == np.uint8
    assert image.rgb.ndim == 3
    assert image.rgb.shape[2] == 3
    assert image.rgb.shape[:2] == (image.height, image.width)
    assert image.rgb.flags["C_CONTIGUOUS"]


def test_load_image_bomb_not_decoded(corpus):
    with pytest.raises(ImageError) as caught:
        load_image(corpus["bomb_20000x20000.png"])

    assert caught.value.code == "too_many_pixels"
    assert "smaller" in str(caught.value)


def test_load_image_max_pixels_checked_on_header(corpus):
    with pytest.raises(ImageError) as caught:
        load_image(corpus["cmyk.jpg"], max_pixels=1000)

    assert caught.value.code == "too_many_pixels"
    assert "9,600" in str(caught.value)


def test_load_image_bytes_use_given_name(corpus):
    with pytest.raises(ImageError) as caught:
        load_image(b"", name="upload-17.jpg")

    assert caught.value.code == "empty_file"
    assert "upload-17.jpg" in str(caught.value)


def test_load_image_missing_path(tmp_path):
    with pytest.raises(ImageError) as caught:
        load_image(tmp_path / "absent.jpg")

    assert caught.value.code == "read_failed"


def test_load_image_exif_orientation_applied(corpus):
    image = load_image(corpus["exif_rotated_6.jpg"])
    expected = gradient()

    assert (image.width, image.height) == (120, 80)
    # Red rises left to right and green top to bottom only when upright.
    assert image.rgb[40, 110, 0] > image.rgb[40, 10, 0] + 150
    assert image.rgb[75, 60, 1] > image.rgb[5, 60, 1] + 150
    assert np.abs(image.rgb.astype(int) - expected.astype(int)).mean() < 6
    assert "applied EXIF orientation 6" in image.notes


def test_load_image_animated_uses_first_frame(corpus):
    image = load_image(corpus["animated.gif"])

    assert image.frame_count == 3
    assert abs(int(image.rgb[20, 20, 0]) - 30) <= 2
    assert any("3 frames" in note for note in image.notes)


def test_load_image_animated_rejected_on_request(corpus):
    with pytest.raises(ImageError) as caught:
        load_image(corpus["animated.gif"], allow_animated=False)

    assert caught.value.code == "animated"
    assert "3 frames" in str(caught.value)


def test_load_image_rgba_flattened_alpha_kept(corpus):
    image = load_image(corpus["rgba.png"])

    assert image.alpha is not None
    assert image.alpha[40, 60] == 255
    assert image.alpha[5, 5] == 0
    assert tuple(image.rgb[5, 5]) == NEUTRAL_BACKGROUND
    assert tuple(image.rgb[40, 60]) == tuple(gradient()[40, 60])


def test_load_image_gray_alpha_kept(corpus):
    image = load_image(corpus["gray_alpha.png"])

    assert image.source_mode == "LA"
    assert image.alpha is not None
    assert image.rgb[5, 5, 0] == NEUTRAL_BACKGROUND[0]
    assert image.rgb[40, 60, 0] == image.rgb[40, 60, 1] == image.rgb[40, 60, 2]


def test_load_image_opaque_alpha_dropped(corpus):
    image = load_image(corpus["rgba_opaque.png"])

    assert image.alpha is None
    assert "alpha channel is fully opaque: dropped" in image.notes


def test_load_image_palette_transparency_becomes_alpha(corpus):
    image = load_image(corpus["palette_transparent.png"])

    assert image.alpha is not None
    assert image.source_mode == "P"


def test_load_image_sixteen_bit_scaled(corpus):
    image = load_image(corpus["gray16.png"])

    assert image.rgb[0, 0, 0] == 0
    assert image.rgb[-1, -1, 0] == 255
    assert any("16-bit" in note for note in image.notes)


def test_load_image_cmyk_converted(corpus):
    image = load_image(corpus["cmyk.jpg"])
    expected = gradient().astype(int)

    assert image.source_mode == "CMYK"
    assert np.abs(image.rgb.astype(int) - expected).mean() < 12


def test_load_image_max_side_downscales(corpus):
    image = load_image(corpus["srgb_icc.jpg"], max_side=60)

    assert max(image.width, image.height) == 60
    assert (image.source_width, image.source_height) == (120, 80)

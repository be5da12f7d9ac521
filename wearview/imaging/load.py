"""Load any image a shop uploads and normalise it to 8-bit sRGB RGB.

Every image enters WearView through `load_image`. It checks the header before decoding
pixels, so a file that claims 20,000 x 20,000 pixels is rejected without allocating them,
and it raises `ImageError` with a stable code for files it cannot use.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageCms, ImageOps, UnidentifiedImageError

from wearview.imaging import errors
from wearview.imaging.errors import ImageError

logger = logging.getLogger(__name__)

# 50 megapixels covers a 8192 x 6144 camera original with room to spare; a decoded image of
# that size already takes 150 MB as RGB.
DEFAULT_MAX_PIXELS = 50_000_000

# Transparent pixels are flattened onto this light neutral grey, which reads as a studio
# background for the classifier and the mask and carries no colour cast.
NEUTRAL_BACKGROUND = (242, 242, 242)

_SRGB_PROFILE = ImageCms.createProfile("sRGB")

_HTML_PREFIXES = (b"<!doctype html", b"<html", b"<head", b"<body")


@dataclass
class LoadedImage:
    """A decoded image as 8-bit sRGB RGB, with the alpha channel kept as a mask hint.

    `width` and `height` describe `rgb` after orientation and any downscaling;
    `source_width` and `source_height` are the sizes stored in the file header.
    """

    rgb: np.ndarray
    alpha: np.ndarray | None
    width: int
    height: int
    format: str
    notes: list[str] = field(default_factory=list)
    name: str = ""
    source_mode: str = ""
    source_width: int = 0
    source_height: int = 0
    frame_count: int = 1


def load_image(
    source: bytes | str | os.PathLike,
    *,
    name: str | None = None,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    max_side: int | None = None,
    allow_animated: bool = True,
) -> LoadedImage:
    """Decode `source` (file bytes or a path) into a normalised `LoadedImage`.

    Args:
        source: the encoded file as bytes, or a path to it.
        name: the file name used in messages; defaults to the path's base name.
        max_pixels: reject images whose header claims more pixels than this.
        max_side: when set, downscale so the longer side is at most this many pixels.
            JPEGs are then decoded at a reduced scale, which is several times faster.
        allow_animated: when True, an animated image is reduced to its first frame and
            `notes` records the frame count. When False it is rejected with code `animated`.

    Raises:
        ImageError: with code `empty_file`, `truncated`, `not_an_image`, `svg_refused`,
            `too_many_pixels`, `animated`, `unsupported_mode` or `read_failed`.
    """
    data, label = _read_source(source, name)
    _check_signature(data, label)

    try:
        with warnings.catch_warnings():
            # Pillow's own bomb check is global state; this function applies max_pixels.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(
            errors.TOO_MANY_PIXELS,
            f"{label}: the image header claims far more pixels than allowed ({exc}). "
            f"Upload a smaller version with at most {max_pixels:,} pixels.",
            file_name=label,
        ) from exc
    except UnidentifiedImageError as exc:
        raise ImageError(
            errors.NOT_AN_IMAGE,
            f"{label}: the file is not an image Pillow can read. "
            "Upload a JPEG, PNG, WebP, GIF or TIFF file.",
            file_name=label,
        ) from exc

    with image:
        return _decode(image, label, max_pixels, max_side, allow_animated)


def _read_source(source: bytes | str | os.PathLike, name: str | None) -> tuple[bytes, str]:
    if isinstance(source, bytes | bytearray | memoryview):
        return bytes(source), name or "<bytes>"

    label = name or os.path.basename(os.fspath(source))
    try:
        with open(source, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise ImageError(
            errors.READ_FAILED,
            f"{label}: the file could not be read ({exc.strerror}). Check the path and "
            "its permissions.",
            file_name=label,
        ) from exc
    return data, label


def _check_signature(data: bytes, label: str) -> None:
    if not data:
        raise ImageError(
            errors.EMPTY_FILE,
            f"{label}: the file is empty (0 bytes). Upload the image again.",
            file_name=label,
        )

    head = data[:1024].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if head.startswith(b"<svg") or (head.startswith(b"<?xml") and b"<svg" in head):
        raise ImageError(
            errors.SVG_REFUSED,
            f"{label}: SVG vector images are not supported because they can embed scripts "
            "and external references. Export the image as PNG or JPEG.",
            file_name=label,
        )
    if head.startswith(_HTML_PREFIXES):
        raise ImageError(
            errors.NOT_AN_IMAGE,
            f"{label}: the file is an HTML page, not an image (often an error page saved "
            "under an image name). Download the original image again.",
            file_name=label,
        )


def _decode(
    image: Image.Image,
    label: str,
    max_pixels: int,
    max_side: int | None,
    allow_animated: bool,
) -> LoadedImage:
    notes: list[str] = []
    source_format = image.format or "unknown"
    source_width, source_height = image.size
    pixels = source_width * source_height

    # Checked on the header size, before any pixel is decoded.
    if pixels > max_pixels:
        raise ImageError(
            errors.TOO_MANY_PIXELS,
            f"{label}: the image is {source_width} x {source_height} = {pixels:,} pixels, "
            f"more than the limit of {max_pixels:,}. Upload a smaller version.",
            file_name=label,
        )
    if pixels == 0:
        raise ImageError(
            errors.NOT_AN_IMAGE,
            f"{label}: the image header gives a size of {source_width} x {source_height}. "
            "Upload a valid image.",
            file_name=label,
        )

    frame_count = int(getattr(image, "n_frames", 1) or 1)
    if getattr(image, "is_animated", False) and frame_count > 1:
        if not allow_animated:
            raise ImageError(
                errors.ANIMATED,
                f"{label}: the {source_format} image is animated ({frame_count} frames). "
                "Upload a still image, for example its first frame exported as PNG.",
                file_name=label,
            )
        image.seek(0)
        notes.append(f"animated {source_format} with {frame_count} frames: used frame 1 only")

    if max_side and source_format == "JPEG" and max(source_width, source_height) > max_side:
        # draft() picks a JPEG DCT scale of 1/2, 1/4 or 1/8 that stays at or above the
        # requested size, so decoding skips most of the work.
        image.draft("RGB", (max_side, max_side))

    try:
        image.load()
    except OSError as exc:
        raise ImageError(
            errors.TRUNCATED,
            f"{label}: the image data is truncated or corrupt ({exc}). Upload the complete "
            "file again.",
            file_name=label,
        ) from exc
    except (SyntaxError, ValueError) as exc:
        raise ImageError(
            errors.NOT_AN_IMAGE,
            f"{label}: the image could not be decoded ({exc}). Re-export it as PNG or JPEG.",
            file_name=label,
        ) from exc

    source_mode = image.mode
    oriented = _apply_orientation(image, notes)
    rgb_image, alpha = _to_srgb(oriented, label, notes)

    if max_side and max(rgb_image.size) > max_side:
        scale = max_side / max(rgb_image.size)
        size = (max(1, round(rgb_image.width * scale)), max(1, round(rgb_image.height * scale)))
        rgb_image = rgb_image.resize(size, Image.Resampling.BOX)
        if alpha is not None:
            alpha = np.asarray(
                Image.fromarray(alpha).resize(size, Image.Resampling.BILINEAR), dtype=np.uint8
            )
        notes.append(f"downscaled to {size[0]} x {size[1]}")

    rgb = np.ascontiguousarray(np.asarray(rgb_image, dtype=np.uint8))
    height, width = rgb.shape[:2]
    return LoadedImage(
        rgb=rgb,
        alpha=alpha,
        width=width,
        height=height,
        format=source_format,
        notes=notes,
        name=label,
        source_mode=source_mode,
        source_width=source_width,
        source_height=source_height,
        frame_count=frame_count,
    )


def _apply_orientation(image: Image.Image, notes: list[str]) -> Image.Image:
    try:
        orientation = image.getexif().get(0x0112, 1)
    except (OSError, ValueError, SyntaxError):
        # A damaged EXIF block should not cost the whole image.
        notes.append("EXIF block unreadable: orientation ignored")
        return image
    if orientation in (None, 1):
        return image
    transposed = ImageOps.exif_transpose(image)
    notes.append(f"applied EXIF orientation {orientation}")
    return transposed if transposed is not None else image


def _to_srgb(
    image: Image.Image, label: str, notes: list[str]
) -> tuple[Image.Image, np.ndarray | None]:
    """Convert any Pillow mode to RGB, applying an embedded ICC profile when there is one."""
    mode = image.mode
    icc = image.info.get("icc_profile")

    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(image, dtype=np.float64)
        # 16-bit files decode to mode I or I;16 with values up to 65535.
        scale = 257.0 if values.max(initial=0) > 255 else 1.0
        image = Image.fromarray(np.clip(values / scale + 0.5, 0, 255).astype(np.uint8), "L")
        notes.append(f"converted {mode} 16-bit samples to 8-bit")
        mode = "L"
    elif mode == "F":
        values = np.asarray(image, dtype=np.float64)
        high = values.max(initial=0)
        # Float images come either as 0..1 or in the integer range they were made from.
        if high <= 1.0:
            values = values * 255.0
        elif high > 255:
            values = values / 257.0
        image = Image.fromarray(np.clip(values + 0.5, 0, 255).astype(np.uint8), "L")
        notes.append("converted 32-bit float samples to 8-bit")
        mode = "L"

    alpha: np.ndarray | None = None
    if mode in ("P", "PA"):
        has_transparency = "transparency" in image.info or mode == "PA"
        image = image.convert("RGBA" if has_transparency else "RGB")
        notes.append("expanded palette image" + (" with transparency" if has_transparency else ""))
        mode = image.mode
    if mode in ("RGBA", "LA", "La", "RGBa"):
        image, alpha = _split_alpha(image, notes)
        mode = image.mode
    elif mode == "1":
        image = image.convert("L")
        mode = "L"

    if icc and mode in ("RGB", "CMYK", "L"):
        converted = _apply_icc(image, icc, notes)
        if converted is not None:
            return converted, alpha

    if mode == "CMYK":
        notes.append("converted CMYK without an ICC profile using a naive formula")
    elif mode == "L":
        notes.append("expanded grayscale to RGB")
    elif mode not in ("RGB",):
        notes.append(f"converted mode {mode} to RGB")
    try:
        return image.convert("RGB"), alpha
    except ValueError as exc:
        raise ImageError(
            errors.UNSUPPORTED_MODE,
            f"{label}: the colour mode {mode} cannot be converted to RGB. Re-export the "
            "image as 8-bit RGB.",
            file_name=label,
        ) from exc


def _split_alpha(image: Image.Image, notes: list[str]) -> tuple[Image.Image, np.ndarray | None]:
    if image.mode in ("La", "RGBa"):
        image = image.convert("RGBA")
    alpha = np.asarray(image.getchannel("A"), dtype=np.uint8)
    colour = image.convert("RGB" if image.mode == "RGBA" else "L")
    if int(alpha.min()) == 255:
        notes.append("alpha channel is fully opaque: dropped")
        return colour, None

    background = Image.new(colour.mode, colour.size, _background_for(colour.mode))
    background.paste(colour, mask=Image.fromarray(alpha, "L"))
    notes.append(f"flattened transparency onto neutral grey {NEUTRAL_BACKGROUND}")
    return background, alpha


def _background_for(mode: str) -> tuple[int, int, int] | int:
    if mode == "L":
        return NEUTRAL_BACKGROUND[0]
    return NEUTRAL_BACKGROUND


def _apply_icc(image: Image.Image, icc: bytes, notes: list[str]) -> Image.Image | None:
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        description = (ImageCms.getProfileDescription(profile) or "").strip()
    except (OSError, ImageCms.PyCMSError) as exc:
        notes.append(f"embedded ICC profile unreadable ({exc}): ignored")
        return None

    if image.mode == "RGB" and "srgb" in description.lower():
        return image
    try:
        converted = ImageCms.profileToProfile(
            image,
            profile,
            _SRGB_PROFILE,
            renderingIntent=ImageCms.Intent.PERCEPTUAL,
            outputMode="RGB",
        )
    except (OSError, ImageCms.PyCMSError) as exc:
        notes.append(f"ICC conversion from {description or 'embedded profile'} failed ({exc})")
        return None
    if converted is None:
        return None
    notes.append(f"converted {image.mode} from ICC profile {description!r} to sRGB")
    return converted

"""Bring any source image to a generation canvas and the result back to full resolution.

Diffusers has sharp edges here: a 4-channel tensor is taken for latents, and sizes that are
not a multiple of the VAE factor are silently cropped. The engine therefore converts every
input to 3-channel RGB itself, resizes it to fit the requested canvas, pads (never crops) to
the VAE factor, and after generation removes the padding and resizes back to the source's
own size, so the garment is pasted back at full resolution.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
from PIL import Image

from wearview.engine.errors import EngineInputError

# Transparent pixels are flattened onto white, the usual product-photo background.
FLATTEN_BACKGROUND = (255, 255, 255)


@dataclass
class Canvas:
    """A source prepared for generation.

    `source`, `mask` and `strength` keep the original resolution. `image` (float32
    3 x H x W in [0, 1]) and `strength_canvas` (float32 H x W) are resized to `fit_size`
    (height, width) and padded at the bottom and right to `padded_size`.
    """

    source: np.ndarray
    mask: np.ndarray
    strength: np.ndarray
    fit_size: tuple[int, int]
    padded_size: tuple[int, int]
    image: np.ndarray
    strength_canvas: np.ndarray


def to_rgb(image: np.ndarray | Image.Image) -> np.ndarray:
    """Return `image` as H x W x 3 uint8 RGB.

    Grayscale is repeated over the three channels; an alpha channel is flattened onto white;
    16-bit and float images (floats in [0, 1]) are scaled to 8 bits.

    Raises:
        EngineInputError: for shapes or types that are not an image.
    """
    if isinstance(image, Image.Image):
        if image.mode in ("RGBA", "LA", "PA") or (
            image.mode == "P" and "transparency" in image.info
        ):
            image = image.convert("RGBA")
        elif image.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = np.asarray(image)
        elif image.mode != "RGB":
            image = image.convert("RGB")
        if isinstance(image, Image.Image):
            image = np.asarray(image)

    array = np.asarray(image)
    array = _to_uint8(array)
    if array.ndim == 2:
        array = array[:, :, None]
    if array.ndim != 3 or array.shape[2] not in (1, 2, 3, 4):
        raise EngineInputError(
            f"expected an H x W image with 1 to 4 channels, got shape {array.shape}"
        )
    channels = array.shape[2]
    if channels in (2, 4):
        color, alpha = array[:, :, :-1], array[:, :, -1:].astype(np.float32) / 255.0
        if channels == 2:
            color = np.repeat(color, 3, axis=2)
        background = np.array(FLATTEN_BACKGROUND, dtype=np.float32)
        flat = color.astype(np.float32) * alpha + background * (1.0 - alpha)
        return np.clip(flat + 0.5, 0, 255).astype(np.uint8)
    if channels == 1:
        return np.repeat(array, 3, axis=2)
    return np.ascontiguousarray(array)


def _to_uint8(array: np.ndarray) -> np.ndarray:
    if array.dtype == np.uint8:
        return array
    if array.dtype == bool:
        return array.astype(np.uint8) * 255
    if array.dtype == np.uint16:
        return (array >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.integer):
        if array.min() < 0 or array.max() > 255:
            raise EngineInputError(
                f"integer image of type {array.dtype} has values outside 0..255; "
                "pass uint8 or uint16"
            )
        return array.astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
            raise EngineInputError("a float image must be finite and lie in [0, 1]")
        return np.clip(array * 255.0 + 0.5, 0, 255).astype(np.uint8)
    raise EngineInputError(f"unsupported image type {array.dtype}")


def to_mask(mask: np.ndarray | Image.Image) -> np.ndarray:
    """Return a garment mask as H x W bool (True on the garment) from bool, 0/255 or [0, 1]."""
    array = np.asarray(mask)
    if array.ndim == 3:
        array = array[:, :, -1] if array.shape[2] in (2, 4) else array[:, :, 0]
    if array.ndim != 2:
        raise EngineInputError(f"the mask must be H x W, got shape {array.shape}")
    if array.dtype == bool:
        return array
    if np.issubdtype(array.dtype, np.floating):
        return array > 0.5
    if array.dtype == np.uint16:
        return array > 32767
    return array > 127


def to_strength(strength: np.ndarray) -> np.ndarray:
    """Return a strength map as H x W float32 in [0, 1]; 16-bit maps are divided by 65535."""
    array = np.asarray(strength)
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim != 2:
        raise EngineInputError(f"the strength map must be H x W, got shape {array.shape}")
    if array.dtype == np.uint16:
        return (array.astype(np.float32) / 65535.0).astype(np.float32)
    if array.dtype == np.uint8:
        return (array.astype(np.float32) / 255.0).astype(np.float32)
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0.0 or array.max() > 1.0:
        raise EngineInputError(
            f"the strength map must be finite and lie in [0, 1], got range "
            f"{float(np.nanmin(array)):.3f}..{float(np.nanmax(array)):.3f}"
        )
    return array


def fit_size(source_hw: tuple[int, int], width: int, height: int, factor: int) -> tuple[int, int]:
    """Return (height, width) of the source scaled to fit inside width x height.

    The aspect ratio is kept; small sources are scaled up, so the model works near its
    native resolution. Each side is at least one VAE factor.
    """
    source_height, source_width = source_hw
    scale = min(width / source_width, height / source_height)
    fitted_height = max(factor, min(height, round(source_height * scale)))
    fitted_width = max(factor, min(width, round(source_width * scale)))
    return fitted_height, fitted_width


def prepare_canvas(
    source: np.ndarray | Image.Image,
    mask: np.ndarray | Image.Image,
    strength: np.ndarray,
    *,
    width: int,
    height: int,
    factor: int,
) -> Canvas:
    """Convert, resize and pad one source with its mask and strength map for generation.

    Raises:
        EngineInputError: when the mask or strength map differs in size from the source,
            or the canvas size is smaller than the VAE factor.
    """
    rgb = to_rgb(source)
    garment = to_mask(mask)
    strength_map = to_strength(strength)
    if garment.shape != rgb.shape[:2] or strength_map.shape != rgb.shape[:2]:
        raise EngineInputError(
            f"source {rgb.shape[1]}x{rgb.shape[0]}, mask {garment.shape[1]}x{garment.shape[0]} "
            f"and strength map {strength_map.shape[1]}x{strength_map.shape[0]} must have "
            "the same size"
        )
    if width < factor or height < factor:
        raise EngineInputError(f"canvas {width}x{height} is smaller than the VAE factor {factor}")

    fitted = fit_size(rgb.shape[:2], width, height, factor)
    padded = (-(-fitted[0] // factor) * factor, -(-fitted[1] // factor) * factor)
    image = _resize(rgb, fitted).astype(np.float32) / 255.0
    strength_fitted = np.clip(_resize(strength_map, fitted), 0.0, 1.0).astype(np.float32)

    pad_bottom, pad_right = padded[0] - fitted[0], padded[1] - fitted[1]
    # Edge replication keeps the padded border plausible for the model; it is cut off again.
    image = cv2.copyMakeBorder(image, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE)
    strength_fitted = cv2.copyMakeBorder(
        strength_fitted, 0, pad_bottom, 0, pad_right, cv2.BORDER_REPLICATE
    )
    return Canvas(
        source=rgb,
        mask=garment,
        strength=strength_map,
        fit_size=fitted,
        padded_size=padded,
        image=np.ascontiguousarray(image.transpose(2, 0, 1)),
        strength_canvas=strength_fitted,
    )


def restore_full_resolution(generated: np.ndarray, canvas: Canvas) -> np.ndarray:
    """Cut the padding off a generated H x W x 3 float image and resize it to the source size.

    Returns:
        uint8 RGB at the source's resolution, before the garment is pasted back.
    """
    if tuple(generated.shape[:2]) != canvas.padded_size:
        raise EngineInputError(
            f"generated image is {generated.shape[1]}x{generated.shape[0]}, expected the "
            f"padded canvas {canvas.padded_size[1]}x{canvas.padded_size[0]}"
        )
    fitted_height, fitted_width = canvas.fit_size
    cropped = np.clip(generated[:fitted_height, :fitted_width] * 255.0 + 0.5, 0, 255)
    cropped = cropped.astype(np.uint8)
    return _resize(cropped, canvas.source.shape[:2])


def _resize(array: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    height, width = size_hw
    if array.shape[:2] == (height, width):
        return array.copy()
    shrinking = height * width < array.shape[0] * array.shape[1]
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_CUBIC
    return cv2.resize(array, (width, height), interpolation=interpolation)

"""Place a masked garment on a portrait canvas where a person would wear it.

The canvas height is taken as a standing figure from the top of the head to the feet, a
little below the top edge and above the bottom. Each category gets a box on that figure
(a top spans shoulders to hips, trousers span waist to ankles). The garment is scaled to
fit its box without changing its aspect ratio, centred, and pinned to the box's top edge,
because garments hang from shoulders or the waist. The rest of the canvas is a soft
neutral backdrop with a little noise, which gives image-to-image diffusion texture to
start from without suggesting any colour.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import cv2
import numpy as np

from wearview.imaging import errors
from wearview.imaging.arrays import binary_mask, check_rgb
from wearview.imaging.category import CATEGORIES
from wearview.imaging.errors import ImageError

logger = logging.getLogger(__name__)

# Boxes as (left, top, right, bottom) fractions of the canvas, for a figure whose head
# starts at 4 % of the height and whose feet reach 97 %.
PLACEMENT_BOXES: dict[str, tuple[float, float, float, float]] = {
    "top": (0.22, 0.17, 0.78, 0.56),
    "outerwear": (0.18, 0.16, 0.82, 0.62),
    "dress": (0.22, 0.17, 0.78, 0.86),
    "full_body": (0.22, 0.17, 0.78, 0.92),
    "bottom": (0.28, 0.45, 0.72, 0.95),
    "footwear": (0.30, 0.86, 0.70, 0.98),
    "bag": (0.52, 0.42, 0.86, 0.66),
    "accessory": (0.36, 0.04, 0.64, 0.18),
    "unknown": (0.22, 0.17, 0.78, 0.60),
}

BACKDROP_TOP = (214, 212, 208)
BACKDROP_BOTTOM = (186, 183, 178)


@dataclass
class Placement:
    """A garment placed on a portrait canvas.

    `canvas` is H x W x 3 uint8, `mask` is H x W uint8 (255 on the garment), `box` is the
    garment's (x, y, width, height) on the canvas and `scale` the factor applied to it.
    """

    canvas: np.ndarray
    mask: np.ndarray
    box: tuple[int, int, int, int]
    scale: float
    category: str


def place_garment(
    rgb: np.ndarray,
    mask: np.ndarray,
    *,
    category: str,
    width: int = 768,
    height: int = 960,
    seed: int = 0,
) -> Placement:
    """Scale and place the masked garment of `rgb` on a `width` x `height` canvas.

    Args:
        rgb: H x W x 3 uint8 source photo.
        mask: H x W garment mask of that photo (255 or True on the garment).
        category: one of `CATEGORIES`; it chooses where on the figure the garment goes.
        width, height: canvas size in pixels, each a multiple of 64 (the latent grid of
            the diffusion models times their attention blocks).
        seed: seed of the backdrop noise, so a placement can be repeated exactly.

    Raises:
        ImageError: `invalid_argument` for a bad size, category, or an empty mask.
    """
    source = check_rgb(rgb, "rgb")
    garment = binary_mask(mask)
    if garment.shape != source.shape[:2]:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"mask shape {garment.shape} does not match image shape {source.shape[:2]}",
        )
    for name, value in (("width", width), ("height", height)):
        if value <= 0 or value % 64:
            raise ImageError(
                errors.INVALID_ARGUMENT,
                f"{name} must be a positive multiple of 64, got {value}; "
                f"use {max(64, round(value / 64) * 64)}",
            )
    if category not in CATEGORIES:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"unknown category {category!r}; use one of {', '.join(CATEGORIES)}",
        )
    if not garment.any():
        raise ImageError(errors.INVALID_ARGUMENT, "the mask is empty, so there is nothing to place")

    # 1. Crop the garment to its bounding box.
    ys, xs = np.nonzero(garment)
    top, bottom, left, right = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = source[top:bottom, left:right]
    crop_mask = garment[top:bottom, left:right].astype(np.uint8) * 255

    # 2. Fit it into the category's box.
    box_left, box_top, box_right, box_bottom = PLACEMENT_BOXES[category]
    box_width = (box_right - box_left) * width
    box_height = (box_bottom - box_top) * height
    scale = min(box_width / crop.shape[1], box_height / crop.shape[0])
    new_width = max(1, round(crop.shape[1] * scale))
    new_height = max(1, round(crop.shape[0] * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_CUBIC
    scaled = cv2.resize(crop, (new_width, new_height), interpolation=interpolation)
    scaled_mask = cv2.resize(crop_mask, (new_width, new_height), interpolation=cv2.INTER_LINEAR)
    scaled_mask = np.where(scaled_mask >= 128, 255, 0).astype(np.uint8)

    x = round(box_left * width + (box_width - new_width) / 2)
    y = round(box_top * height)
    x = int(np.clip(x, 0, width - new_width))
    y = int(np.clip(y, 0, height - new_height))

    # 3. Paint the backdrop and paste the garment.
    canvas = _backdrop(width, height, seed)
    canvas_mask = np.zeros((height, width), np.uint8)
    region = canvas[y : y + new_height, x : x + new_width]
    inside = scaled_mask > 0
    region[inside] = scaled[inside]
    canvas_mask[y : y + new_height, x : x + new_width] = scaled_mask

    logger.debug(
        "placed %s garment %dx%d at (%d, %d) scale %.3f",
        category,
        new_width,
        new_height,
        x,
        y,
        scale,
    )
    return Placement(
        canvas=canvas,
        mask=canvas_mask,
        box=(x, y, new_width, new_height),
        scale=float(scale),
        category=category,
    )


def _backdrop(width: int, height: int, seed: int) -> np.ndarray:
    ramp = np.linspace(0.0, 1.0, height, dtype=np.float32)[:, None, None]
    top = np.array(BACKDROP_TOP, np.float32)
    bottom = np.array(BACKDROP_BOTTOM, np.float32)
    backdrop = top + (bottom - top) * ramp
    backdrop = np.broadcast_to(backdrop, (height, width, 3)).copy()
    noise = np.random.default_rng(seed).normal(0.0, 3.0, (height, width, 1)).astype(np.float32)
    return np.clip(backdrop + noise + 0.5, 0, 255).astype(np.uint8)

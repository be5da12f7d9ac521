"""Paste the original garment pixels back over a generated image.

Diffusion at low strength still drifts the garment's colours and softens prints, so the
final image takes the garment from the source. The alpha ramps up inside the garment edge,
so the garment's interior is copied exactly and no source background leaks outside it.
The generated pixels near the seam are shifted in CIELAB towards the source garment's
tone, with the correction fading out with distance, so the lighting around the garment
agrees with the garment itself.
"""

from __future__ import annotations

import cv2
import numpy as np

from wearview.imaging import errors
from wearview.imaging.arrays import binary_mask, check_rgb
from wearview.imaging.errors import ImageError

DEFAULT_FEATHER_PX = 4

# Limits on the tone correction, in CIELAB units (OpenCV's 8-bit Lab scales L to 0..255),
# so a generated image that differs wildly from the source is nudged, not repainted.
_MAX_LIGHTNESS_SHIFT = 20.0
_MAX_CHROMA_SHIFT = 12.0


def paste_back(
    generated: np.ndarray,
    source: np.ndarray,
    mask: np.ndarray,
    *,
    feather_px: int = DEFAULT_FEATHER_PX,
    tone_match: bool = True,
) -> np.ndarray:
    """Composite the source garment over `generated` and return an H x W x 3 uint8 image.

    Args:
        generated: H x W x 3 uint8 image from the engine.
        source: H x W x 3 uint8 image with the garment at the same place (the placed canvas).
        mask: H x W garment mask (255 or True on the garment).
        feather_px: width in pixels of the alpha ramp inside the garment edge. Pixels
            deeper inside the garment than this are copied unchanged from `source`.
        tone_match: shift the generated pixels around the seam towards the garment's tone.

    Raises:
        ImageError: `invalid_argument` when shapes or types do not match.
    """
    generated = check_rgb(generated, "generated")
    source = check_rgb(source, "source")
    garment = binary_mask(mask)
    if generated.shape != source.shape or garment.shape != source.shape[:2]:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"paste_back needs equal sizes: generated {generated.shape}, source "
            f"{source.shape}, mask {garment.shape}. Resize the generated image to the canvas.",
        )
    if feather_px < 0:
        raise ImageError(errors.INVALID_ARGUMENT, f"feather_px must be >= 0, got {feather_px}")
    if not garment.any():
        return generated.copy()

    inside_distance = cv2.distanceTransform(
        garment.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    # NOTE: a part narrower than twice feather_px (a thin strap) never reaches alpha 1,
    # so it is partly taken from the generated image.
    if feather_px == 0:
        alpha = garment.astype(np.float32)
    else:
        alpha = np.clip(inside_distance / float(feather_px), 0.0, 1.0).astype(np.float32)

    background = generated
    if tone_match:
        background = _match_tone(generated, source, garment, inside_distance, feather_px)

    blended = alpha[..., None] * source.astype(np.float32) + (
        1.0 - alpha[..., None]
    ) * background.astype(np.float32)
    return np.clip(blended + 0.5, 0, 255).astype(np.uint8)


def _match_tone(
    generated: np.ndarray,
    source: np.ndarray,
    garment: np.ndarray,
    inside_distance: np.ndarray,
    feather_px: int,
) -> np.ndarray:
    """Shift generated pixels near the garment towards the source garment's mean tone.

    The shift is the difference of mean Lab colour between source and generated over a
    band just inside the garment edge, where both images show the garment. It applies in
    full on the seam and fades to zero over a few feather widths outside it.
    """
    band_width = max(3, 2 * feather_px)
    band = garment & (inside_distance <= band_width)
    if band.sum() < 16:
        return generated

    source_lab = cv2.cvtColor(source, cv2.COLOR_RGB2LAB).astype(np.float32)
    generated_lab = cv2.cvtColor(generated, cv2.COLOR_RGB2LAB).astype(np.float32)
    shift = source_lab[band].mean(axis=0) - generated_lab[band].mean(axis=0)
    limits = np.array([_MAX_LIGHTNESS_SHIFT, _MAX_CHROMA_SHIFT, _MAX_CHROMA_SHIFT], np.float32)
    shift = np.clip(shift, -limits, limits)

    outside_distance = cv2.distanceTransform(
        (~garment).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    reach = float(4 * band_width)
    weight = np.clip(1.0 - outside_distance / reach, 0.0, 1.0)
    weight[garment] = 1.0
    corrected = generated_lab + weight[..., None] * shift[None, None, :]
    corrected = np.clip(corrected + 0.5, 0, 255).astype(np.uint8)
    return cv2.cvtColor(corrected, cv2.COLOR_LAB2RGB)

"""Separate a garment from its background in a product-only photo.

The steps, in order:

1. Use the alpha channel when the file has real transparency.
2. Model the background from the image border as a smooth colour field (a quadratic fit
   per CIELAB channel, which absorbs vignetting and light falloff). A border that does not
   fit a smooth field is a textured background, and the photo is rejected with a reason.
3. Threshold the colour distance to that field, treating darker pixels with the
   background's chroma as shadow rather than garment.
4. Refine the boundary with GrabCut on a downscaled copy, then settle the edge band at full
   resolution by colour distance again.
5. Remove a hanger hook above the garment, fill small holes, and keep the garment's
   components (a pair of shoes stays two parts).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import cv2
import numpy as np

from wearview.imaging.errors import MaskError
from wearview.imaging.load import LoadedImage

logger = logging.getLogger(__name__)

# Colour distances are in OpenCV's 8-bit Lab units (L scaled to 0..255).
FOREGROUND_DISTANCE = 24.0
BACKGROUND_DISTANCE = 10.0
# The border must fit the smooth background model within this distance on most pixels.
BORDER_FIT_DISTANCE = 14.0
MIN_BORDER_FIT = 0.80
# Below this share of the photo, a found garment is taken for a print or trim on a garment
# that matches the backdrop.
MIN_COVERAGE = 0.03
GRABCUT_SIDE = 512
GRABCUT_ITERATIONS = 3


@dataclass
class GarmentMask:
    """A garment mask: 255 on the garment, 0 elsewhere, at the image's size.

    `bbox` is (x, y, width, height) of the garment. `method` names how it was found and
    `notes` list the clean-up steps that changed it.
    """

    mask: np.ndarray
    bbox: tuple[int, int, int, int]
    coverage: float
    method: str
    notes: list[str] = field(default_factory=list)


def garment_mask(image: LoadedImage) -> GarmentMask:
    """Return the garment mask of a product-only photo.

    Raises:
        MaskError: with `reason` `textured_background` when the border is not a plain or
            smoothly shaded background, `no_garment` when nothing differs from it,
            `low_contrast` when under 3 % of the photo differs from it (a white garment
            on white), and `fills_frame` when the garment covers the whole photo.
    """
    rgb = image.rgb
    notes: list[str] = []

    if image.alpha is not None and (image.alpha < 128).mean() > 0.02:
        mask = (image.alpha >= 128).astype(np.uint8) * 255
        mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        method = "alpha"
        notes.append("used the image's alpha channel")
    else:
        mask = _segment_by_background(rgb, image.name, notes)
        method = "background_model"

    mask = _remove_hanger(mask, notes)
    mask = _fill_small_holes(mask, rgb, notes)
    mask = _keep_garment_components(mask, notes)
    result = _finish(mask, method, notes, image.name)
    if method == "background_model" and result.coverage < MIN_COVERAGE:
        # A white garment on a white backdrop leaves only its print or buttons.
        raise MaskError(
            f"{image.name}: only {result.coverage:.1%} of the photo differs from the "
            "background, which usually means a garment in the backdrop's colour. Use a "
            "photo with transparency or on a contrasting background.",
            reason="low_contrast",
            file_name=image.name,
        )
    return result


def _segment_by_background(rgb: np.ndarray, name: str, notes: list[str]) -> np.ndarray:
    height, width = rgb.shape[:2]
    lab = cv2.cvtColor(rgb, cv2.COLOR_RGB2LAB).astype(np.float32)
    background = _background_field(lab, name)
    difference = lab - background
    distance = np.linalg.norm(difference, axis=2)

    # Shadows: darker than the background with nearly its chroma. A garment of the same
    # hue as the wall but darker is the failure case of this rule.
    chroma_shift = np.linalg.norm(difference[:, :, 1:], axis=2)
    shadow = (difference[:, :, 0] < -BACKGROUND_DISTANCE) & (chroma_shift < 5.0)
    shadow &= difference[:, :, 0] > -60.0
    if shadow.mean() > 0.002:
        notes.append("treated soft shadows as background")

    sure_foreground = (distance > FOREGROUND_DISTANCE) & ~shadow
    probable_foreground = (distance > BACKGROUND_DISTANCE) & ~shadow
    if sure_foreground.mean() < 0.002:
        raise MaskError(
            f"{name}: no garment found, because nothing in the photo differs from its "
            "background. Use a photo where the garment contrasts with the background.",
            reason="no_garment",
            file_name=name,
        )

    # Closing bridges the light stripes or checks of a garment whose light parts are
    # close to the background colour, so GrabCut starts with them labelled as probable garment.
    bridge = max(3, (min(height, width) // 60) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (bridge, bridge))
    closed = cv2.morphologyEx(probable_foreground.astype(np.uint8), cv2.MORPH_CLOSE, kernel) > 0
    probable_foreground = closed & ~(shadow & ~probable_foreground)

    refined = _grabcut(rgb, sure_foreground, probable_foreground, shadow)

    # GrabCut ran at a reduced size, so the pixels along its edge are decided again at full
    # size.
    band = cv2.morphologyEx(refined, cv2.MORPH_GRADIENT, np.ones((5, 5), np.uint8)) > 0
    full = refined > 0
    full[band] = probable_foreground[band]
    mask = full.astype(np.uint8) * 255
    mask = cv2.morphologyEx(mask, cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
    if (mask > 0).mean() > 0.97 or _touches_all_sides(mask > 0, height, width):
        raise MaskError(
            f"{name}: the garment fills the whole photo (a close-up or detail shot), so "
            "there is no background to separate. Use a photo showing the whole garment.",
            reason="fills_frame",
            file_name=name,
        )
    return mask


def _background_field(lab: np.ndarray, name: str) -> np.ndarray:
    """Fit a quadratic colour field to the border pixels and check it explains them."""
    height, width = lab.shape[:2]
    margin = max(2, min(height, width) // 40)
    border = np.zeros((height, width), bool)
    border[:margin] = border[-margin:] = True
    border[:, :margin] = border[:, -margin:] = True

    ys, xs = np.nonzero(border)
    step = max(1, len(ys) // 4000)
    ys, xs = ys[::step], xs[::step]
    samples = lab[ys, xs]

    def design(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        u = x / max(1, width - 1) - 0.5
        v = y / max(1, height - 1) - 0.5
        return np.stack([np.ones_like(u), u, v, u * u, v * v, u * v], axis=-1)

    # Two rounds: the second drops border pixels the first fit could not explain, such as
    # a garment that touches the frame.
    terms = design(xs.astype(np.float64), ys.astype(np.float64))
    keep = np.ones(len(samples), bool)
    for _ in range(2):
        coefficients, *_ = np.linalg.lstsq(terms[keep], samples[keep], rcond=None)
        residual = np.linalg.norm(samples - terms @ coefficients, axis=1)
        keep = residual < BORDER_FIT_DISTANCE

    fit = float(keep.mean())
    if fit < MIN_BORDER_FIT:
        raise MaskError(
            f"{name}: the background is textured or busy ({fit:.1%} of the border matches "
            f"a plain backdrop, {MIN_BORDER_FIT:.0%} needed), so the garment cannot be "
            "separated reliably. Use a photo on a plain background or one with transparency.",
            reason="textured_background",
            file_name=name,
        )

    grid_y, grid_x = np.mgrid[0:height, 0:width]
    field_terms = design(grid_x.astype(np.float32), grid_y.astype(np.float32))
    return (field_terms @ coefficients.astype(np.float32)).astype(np.float32)


def _grabcut(
    rgb: np.ndarray,
    sure_foreground: np.ndarray,
    probable_foreground: np.ndarray,
    shadow: np.ndarray,
) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = min(1.0, GRABCUT_SIDE / max(height, width))
    size = (max(1, round(width * scale)), max(1, round(height * scale)))

    def shrink(mask: np.ndarray) -> np.ndarray:
        return cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST) > 0

    small_rgb = cv2.resize(rgb, size, interpolation=cv2.INTER_AREA)
    labels = np.full(size[::-1], cv2.GC_BGD, np.uint8)
    labels[shrink(probable_foreground)] = cv2.GC_PR_FGD
    labels[shrink(shadow)] = cv2.GC_PR_BGD
    labels[shrink(sure_foreground)] = cv2.GC_PR_FGD
    # The inside of the sure foreground, away from its edge, is fixed as garment.
    core = cv2.erode(shrink(sure_foreground).astype(np.uint8), np.ones((5, 5), np.uint8)) > 0
    labels[core] = cv2.GC_FGD

    if (labels == cv2.GC_BGD).sum() < 64 or (labels == cv2.GC_FGD).sum() < 16:
        result = probable_foreground.astype(np.uint8)
        return result * 255

    background_model = np.zeros((1, 65), np.float64)
    foreground_model = np.zeros((1, 65), np.float64)
    cv2.grabCut(
        cv2.cvtColor(small_rgb, cv2.COLOR_RGB2BGR),
        labels,
        None,
        background_model,
        foreground_model,
        GRABCUT_ITERATIONS,
        cv2.GC_INIT_WITH_MASK,
    )
    small = np.where((labels == cv2.GC_FGD) | (labels == cv2.GC_PR_FGD), 255, 0).astype(np.uint8)
    enlarged = cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)
    return np.where(enlarged >= 128, 255, 0).astype(np.uint8)


def _remove_hanger(mask: np.ndarray, notes: list[str]) -> np.ndarray:
    """Cut thin parts that stick out above the garment's body near its centre.

    The body is what survives an opening with a kernel wider than a hanger hook. Thin
    parts above the body's top edge and within the middle third of its width are taken
    for a hook. Thin straps beside the centre stay.
    """
    garment = mask > 0
    if not garment.any():
        return mask
    ys, xs = np.nonzero(garment)
    garment_width = xs.max() - xs.min() + 1
    kernel_size = max(5, int(garment_width * 0.04) | 1)
    body = cv2.morphologyEx(
        mask, cv2.MORPH_OPEN, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (kernel_size,) * 2)
    )
    if not body.any():
        return mask
    thin = garment & ~(body > 0)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(thin.astype(np.uint8), 8)
    body_rows = np.nonzero((body > 0).any(axis=1))[0]
    body_top = int(body_rows.min())
    body_cols = np.nonzero((body > 0).any(axis=0))[0]
    centre = (body_cols.min() + body_cols.max()) / 2.0
    body_width = body_cols.max() - body_cols.min() + 1

    result = mask.copy()
    removed = 0
    for index in range(1, count):
        top = stats[index, cv2.CC_STAT_TOP]
        part_height = stats[index, cv2.CC_STAT_HEIGHT]
        left = stats[index, cv2.CC_STAT_LEFT]
        part_centre = left + stats[index, cv2.CC_STAT_WIDTH] / 2.0
        above = top + part_height * 0.5 < body_top
        central = abs(part_centre - centre) < body_width / 6.0
        if above and central and part_height > kernel_size:
            result[labels == index] = 0
            removed += 1
    if removed:
        notes.append(f"removed {removed} hanger part(s) above the garment")
    return result


def _fill_small_holes(mask: np.ndarray, rgb: np.ndarray, notes: list[str]) -> np.ndarray:
    """Fill holes smaller than 1.5 % of the garment. Larger ones are real gaps."""
    garment = mask > 0
    inverse = (~garment).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(inverse, connectivity=4)
    height, width = mask.shape
    limit = 0.015 * garment.sum()
    filled = 0
    result = mask.copy()
    for index in range(1, count):
        x, y, w, h, area = stats[index]
        touches_border = x == 0 or y == 0 or x + w == width or y + h == height
        if not touches_border and area <= limit:
            result[labels == index] = 255
            filled += 1
    if filled:
        notes.append(f"filled {filled} hole(s)")
    return result


def _keep_garment_components(mask: np.ndarray, notes: list[str]) -> np.ndarray:
    """Keep the largest component and any other at least 10 % of its size."""
    count, labels, stats, _ = cv2.connectedComponentsWithStats((mask > 0).astype(np.uint8), 8)
    if count <= 2:
        return mask
    areas = stats[1:, cv2.CC_STAT_AREA]
    keep = np.nonzero(areas >= 0.1 * areas.max())[0] + 1
    result = np.isin(labels, keep).astype(np.uint8) * 255
    dropped = count - 1 - len(keep)
    if dropped:
        notes.append(f"dropped {dropped} small speck(s)")
    return result


def _touches_all_sides(garment: np.ndarray, height: int, width: int) -> bool:
    rows = garment.any(axis=1)
    cols = garment.any(axis=0)
    return bool(
        garment[0].mean() > 0.5
        and garment[-1].mean() > 0.5
        and garment[:, 0].mean() > 0.5
        and garment[:, -1].mean() > 0.5
        and rows.all()
        and cols.all()
    )


def _finish(mask: np.ndarray, method: str, notes: list[str], name: str) -> GarmentMask:
    garment = mask > 0
    if not garment.any():
        raise MaskError(
            f"{name}: no garment remained after cleaning the mask. Use a photo where the "
            "garment contrasts with a plain background.",
            reason="no_garment",
            file_name=name,
        )
    ys, xs = np.nonzero(garment)
    bbox = (
        int(xs.min()),
        int(ys.min()),
        int(xs.max() - xs.min() + 1),
        int(ys.max() - ys.min() + 1),
    )
    return GarmentMask(
        mask=np.where(garment, 255, 0).astype(np.uint8),
        bbox=bbox,
        coverage=float(garment.mean()),
        method=method,
        notes=notes,
    )

"""Per-pixel diffusion strength maps: low on the garment, high elsewhere.

A strength map sets how much the image-to-image engine may change each pixel. The garment
keeps a low strength that never exceeds its preset's lock value, and the background gets
the preset's strength. A feathered band outside the garment edge ramps between the two, so
the generated body and the garment meet without a hard line.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from wearview.imaging import errors
from wearview.imaging.arrays import binary_mask
from wearview.imaging.errors import ImageError


@dataclass(frozen=True)
class StrengthPreset:
    """A named strength setting.

    `band` is the range the background strength must fall in, `garment` is the strength
    applied on the garment and `lock` the highest strength any garment pixel may get.
    `feather_fraction` sizes the edge band as a fraction of the image's shorter side.
    """

    name: str
    band: tuple[float, float]
    background: float
    garment: float
    lock: float
    feather_fraction: float = 0.02

    def __post_init__(self) -> None:
        low, high = self.band
        if not 0.0 <= low <= high <= 1.0:
            raise ValueError(f"preset {self.name!r}: band {self.band} must lie within 0..1")
        if not low <= self.background <= high:
            raise ValueError(
                f"preset {self.name!r}: background {self.background} is outside band {self.band}"
            )
        if not 0.0 <= self.garment <= self.lock <= 1.0:
            raise ValueError(
                f"preset {self.name!r}: garment {self.garment} must be between 0 and "
                f"lock {self.lock}"
            )
        if self.lock >= low:
            raise ValueError(
                f"preset {self.name!r}: lock {self.lock} must stay below the band start {low}"
            )


PRESETS: dict[str, StrengthPreset] = {
    "retouch": StrengthPreset(
        name="retouch", band=(0.2, 0.4), background=0.3, garment=0.04, lock=0.1
    ),
    "restyle": StrengthPreset(
        name="restyle", band=(0.4, 0.6), background=0.5, garment=0.06, lock=0.15
    ),
    "reimagine": StrengthPreset(
        name="reimagine", band=(0.6, 0.85), background=0.75, garment=0.08, lock=0.2
    ),
}


def get_preset(preset: str | StrengthPreset) -> StrengthPreset:
    """Return the preset object for a name, or the preset itself."""
    if isinstance(preset, StrengthPreset):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"unknown strength preset {preset!r}; use one of {', '.join(sorted(PRESETS))}",
        ) from None


def feather_for(shape: tuple[int, ...], preset: StrengthPreset) -> int:
    """Return the default feather width in pixels for an image of `shape`."""
    return max(2, round(min(shape[:2]) * preset.feather_fraction))


def strength_map(
    mask: np.ndarray,
    *,
    preset: str | StrengthPreset,
    feather_px: int | None = None,
) -> np.ndarray:
    """Build the per-pixel strength map for `mask` (255 or True on the garment).

    Garment pixels get the preset's garment strength, rising to its lock value at the
    garment edge. Outside the garment the strength rises along a smoothstep from the lock
    value to the background strength over `feather_px` pixels.

    Returns:
        H x W float32 array in [0, 1].
    """
    chosen = get_preset(preset)
    garment = binary_mask(mask)
    feather = feather_for(garment.shape, chosen) if feather_px is None else int(feather_px)
    if feather < 0:
        raise ImageError(errors.INVALID_ARGUMENT, f"feather_px must be >= 0, got {feather_px}")

    result = np.full(garment.shape, chosen.background, dtype=np.float32)
    if not garment.any():
        return result

    # Distance of each outside pixel to the nearest garment pixel, and of each garment pixel
    # to the nearest background pixel.
    outside_distance = cv2.distanceTransform(
        (~garment).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    inside_distance = cv2.distanceTransform(
        garment.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )

    if feather > 0:
        ramp = _smoothstep(np.clip((outside_distance - 1.0) / feather, 0.0, 1.0))
        outside = chosen.lock + (chosen.background - chosen.lock) * ramp
        inner_ramp = np.clip((inside_distance - 1.0) / max(1.0, feather / 2.0), 0.0, 1.0)
        inside = chosen.lock + (chosen.garment - chosen.lock) * inner_ramp
    else:
        outside = np.full(garment.shape, chosen.background, dtype=np.float32)
        inside = np.full(garment.shape, chosen.garment, dtype=np.float32)

    result = np.where(garment, inside, outside).astype(np.float32)
    # Guard the contract against rounding: no garment pixel above the lock.
    result[garment] = np.minimum(result[garment], chosen.lock)
    return np.clip(result, 0.0, 1.0)


def _smoothstep(values: np.ndarray) -> np.ndarray:
    return values * values * (3.0 - 2.0 * values)

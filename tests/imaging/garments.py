"""Draw synthetic garment photos with known masks for the imaging tests and benchmarks.

Each garment is a polygon silhouette (T-shirt, tank top with thin straps, dress, trousers)
filled with a pattern (stripes, text, a logo print, checks). It lies on a studio
background with a gentle light falloff, sensor noise and a soft drop shadow. The exact
garment mask is returned with the photo.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

PATTERNS = ("stripes", "text", "logo", "checks")
SHAPES = ("tshirt", "tank_top", "dress", "trousers")


@dataclass
class SyntheticGarment:
    """A rendered photo (H x W x 3 uint8 RGB) and its exact garment mask (H x W uint8)."""

    rgb: np.ndarray
    mask: np.ndarray
    shape: str
    pattern: str


def silhouette(shape: str, width: int, height: int) -> np.ndarray:
    """Return an H x W uint8 mask (255 on the garment) for one of `SHAPES`."""
    mask = np.zeros((height, width), np.uint8)

    def points(relative: list[tuple[float, float]]) -> np.ndarray:
        return np.array([(round(x * width), round(y * height)) for x, y in relative], np.int32)

    if shape == "tshirt":
        outline = [
            (0.38, 0.15), (0.45, 0.18), (0.55, 0.18), (0.62, 0.15), (0.80, 0.24),
            (0.74, 0.38), (0.68, 0.34), (0.68, 0.85), (0.32, 0.85), (0.32, 0.34),
            (0.26, 0.38), (0.20, 0.24),
        ]  # fmt: skip
        cv2.fillPoly(mask, [points(outline)], 255)
    elif shape == "tank_top":
        body = [(0.34, 0.34), (0.66, 0.34), (0.70, 0.85), (0.30, 0.85)]
        cv2.fillPoly(mask, [points(body)], 255)
        strap = max(3, round(width * 0.012))
        for x_bottom, x_top in ((0.38, 0.40), (0.62, 0.60)):
            start = (round(x_bottom * width), round(0.35 * height))
            end = (round(x_top * width), round(0.14 * height))
            cv2.line(mask, start, end, 255, thickness=strap)
    elif shape == "dress":
        outline = [
            (0.40, 0.12), (0.60, 0.12), (0.64, 0.30), (0.60, 0.42), (0.76, 0.90),
            (0.24, 0.90), (0.40, 0.42), (0.36, 0.30),
        ]  # fmt: skip
        cv2.fillPoly(mask, [points(outline)], 255)
    elif shape == "trousers":
        outline = [
            (0.32, 0.10), (0.68, 0.10), (0.72, 0.90), (0.56, 0.90), (0.50, 0.36),
            (0.44, 0.90), (0.28, 0.90),
        ]  # fmt: skip
        cv2.fillPoly(mask, [points(outline)], 255)
    else:
        raise ValueError(f"unknown shape {shape!r}; use one of {SHAPES}")
    return mask


def pattern(name: str, width: int, height: int, rng: np.random.Generator) -> np.ndarray:
    """Return an H x W x 3 uint8 RGB fabric texture for one of `PATTERNS`."""
    base = np.array(rng.integers(40, 200, 3), np.uint8)
    fabric = np.empty((height, width, 3), np.uint8)
    fabric[:] = base

    if name == "stripes":
        period = max(8, width // 40)
        rows = (np.arange(height) // (period // 2)) % 2 == 0
        fabric[rows] = (200, 30, 40)
        fabric[~rows] = (245, 240, 230)
    elif name == "text":
        fabric[:] = (240, 200, 90)
        scale = max(0.6, width / 700)
        for row, line in enumerate(("WEARVIEW", "SUMMER 26", "ORGANIC COTTON")):
            y = round(height * (0.40 + 0.08 * row))
            cv2.putText(
                fabric,
                line,
                (round(width * 0.36), y),
                cv2.FONT_HERSHEY_SIMPLEX,
                scale,
                (120, 20, 30),
                thickness=max(1, round(scale * 2)),
                lineType=cv2.LINE_AA,
            )
    elif name == "logo":
        fabric[:] = (30, 90, 60)
        centre = (width // 2, round(height * 0.45))
        radius = max(12, width // 10)
        cv2.circle(fabric, centre, radius, (250, 200, 40), -1, lineType=cv2.LINE_AA)
        cv2.circle(fabric, centre, radius // 2, (200, 30, 60), -1, lineType=cv2.LINE_AA)
        star = np.array(
            [
                (
                    centre[0] + radius * 0.9 * np.cos(angle) * (1 if k % 2 == 0 else 0.45),
                    centre[1] + radius * 0.9 * np.sin(angle) * (1 if k % 2 == 0 else 0.45),
                )
                for k, angle in enumerate(np.linspace(-np.pi / 2, 1.5 * np.pi, 11)[:-1])
            ],
            np.int32,
        )
        cv2.fillPoly(fabric, [star], (255, 255, 255), lineType=cv2.LINE_AA)
    elif name == "checks":
        period = max(12, width // 24)
        rows = (np.arange(height) // period) % 2 == 0
        cols = (np.arange(width) // period) % 2 == 0
        fabric[:] = (30, 60, 150)
        fabric[rows[:, None] & cols[None, :]] = (220, 220, 60)
        fabric[rows[:, None] ^ cols[None, :]] = (120, 40, 40)
    else:
        raise ValueError(f"unknown pattern {name!r}; use one of {PATTERNS}")
    return fabric


def render(
    shape: str,
    pattern_name: str,
    *,
    width: int = 640,
    height: int = 800,
    seed: int = 0,
    background: tuple[int, int, int] = (208, 209, 212),
    shadow: bool = True,
    hanger: bool = False,
) -> SyntheticGarment:
    """Render a garment photo on a studio background and return it with its exact mask."""
    rng = np.random.default_rng(seed)
    mask = silhouette(shape, width, height)
    fabric = pattern(pattern_name, width, height, rng)

    # A light falloff towards the corners, as studio lighting gives.
    ys, xs = np.mgrid[0:height, 0:width].astype(np.float32)
    falloff = 1.0 - 0.08 * (((xs / width - 0.5) ** 2 + (ys / height - 0.5) ** 2) / 0.5)
    photo = np.array(background, np.float32)[None, None, :] * falloff[..., None]

    if shadow:
        offset = np.float32([[1, 0, width * 0.015], [0, 1, height * 0.015]])
        shifted = cv2.warpAffine(mask, offset, (width, height)).astype(np.float32) / 255.0
        softness = max(3, (width // 60) | 1)
        shade = cv2.GaussianBlur(shifted, (softness * 2 + 1,) * 2, 0)
        photo *= 1.0 - 0.18 * shade[..., None]

    garment = mask > 0
    photo[garment] = fabric[garment].astype(np.float32)
    if hanger:
        # A wire hook from the top edge down to the garment's neckline; not in the mask.
        top = int(np.nonzero(garment.any(axis=1))[0].min())
        centre = width // 2
        thickness = max(2, width // 160)
        hook_top = max(2, top - round(height * 0.10))
        cv2.ellipse(
            photo,
            (centre - round(width * 0.02), hook_top + round(height * 0.02)),
            (round(width * 0.02), round(height * 0.02)),
            0,
            180,
            360,
            (70, 70, 75),
            thickness,
        )
        cv2.line(
            photo,
            (centre, hook_top + round(height * 0.02)),
            (centre, top + 2),
            (70, 70, 75),
            thickness,
        )
    photo += rng.normal(0.0, 2.0, photo.shape).astype(np.float32)
    rgb = np.clip(photo + 0.5, 0, 255).astype(np.uint8)
    return SyntheticGarment(rgb=rgb, mask=mask, shape=shape, pattern=pattern_name)


def iou(first: np.ndarray, second: np.ndarray) -> float:
    """Return the intersection over union of two masks (non-zero means inside)."""
    a = first > 0
    b = second > 0
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0

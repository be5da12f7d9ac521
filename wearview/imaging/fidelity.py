"""Score how faithfully a candidate image keeps the source garment.

All garment scores are computed on the garment core: the mask eroded by `core_margin_px`,
so the feathered seam that paste-back blends is judged by the seam score alone. Scores:

- `ssim`: mean structural similarity of the luminance over the core.
- `ciede2000_mean`, `ciede2000_p95`: CIEDE2000 colour difference per pixel, mean and 95th
  percentile. The default limit of 2 for the mean is an estimate of a just visible
  difference side by side, not a limit measured for this product.
- `edge_agreement`: F1 score of Canny edges of candidate against source, with one pixel of
  tolerance. Stripes or print outlines that move by two pixels drop it sharply.
- `hf_energy_ratio`: Laplacian energy of the candidate over the source. Blurred text or
  prints fall below 1, added noise or over-sharpening rise above it.
- `seam`: mean CIE76 colour step (OpenCV 8-bit Lab units) between the ring just outside
  the mask edge and the ring beyond it, after local smoothing. A halo or hard step
  around the garment raises it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import cv2
import numpy as np
from skimage.color import deltaE_ciede2000, rgb2lab
from skimage.metrics import structural_similarity

from wearview.imaging import errors
from wearview.imaging.arrays import binary_mask, check_rgb
from wearview.imaging.errors import ImageError


@dataclass(frozen=True)
class Thresholds:
    """Pass limits for `assess`. A candidate fails on the first limit it breaks."""

    ssim_min: float = 0.90
    ciede2000_mean_max: float = 2.0
    ciede2000_p95_max: float = 5.0
    edge_agreement_min: float = 0.85
    hf_energy_ratio_min: float = 0.75
    hf_energy_ratio_max: float = 1.35
    seam_max: float = 12.0
    core_margin_px: int = 5
    seam_ring_px: int = 4
    min_core_pixels: int = 64


@dataclass
class Assessment:
    """The result of `assess`: pass or fail, the reason, every score and a ranking score."""

    passed: bool
    reason: str | None
    scores: dict[str, float]
    score: float
    thresholds: Thresholds = field(default_factory=Thresholds)

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable record of the assessment."""
        return {
            "passed": self.passed,
            "reason": self.reason,
            "scores": dict(self.scores),
            "score": self.score,
            "thresholds": asdict(self.thresholds),
        }


def assess(
    source: np.ndarray,
    candidate: np.ndarray,
    mask: np.ndarray,
    *,
    thresholds: Thresholds | None = None,
) -> Assessment:
    """Compare `candidate` with `source` on the garment `mask` and decide pass or fail.

    Args:
        source: H x W x 3 uint8 image with the original garment.
        candidate: H x W x 3 uint8 image to judge, aligned with `source`.
        mask: H x W garment mask (255 or True on the garment).
        thresholds: pass limits; the defaults suit pasted-back candidates.

    Returns:
        An `Assessment`. `score` ranks candidates in 0..1: each score maps to 0.5 exactly at
        its threshold and towards 1 as it improves, and `score` is their geometric mean.

    Raises:
        ImageError: `invalid_argument` on mismatched shapes or a garment core that is too
            small to score.
    """
    limits = thresholds or Thresholds()
    source = check_rgb(source, "source")
    candidate = check_rgb(candidate, "candidate")
    garment = binary_mask(mask)
    if source.shape != candidate.shape or garment.shape != source.shape[:2]:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"assess needs equal sizes: source {source.shape}, candidate {candidate.shape}, "
            f"mask {garment.shape}",
        )

    core = _erode(garment, limits.core_margin_px)
    if core.sum() < limits.min_core_pixels:
        raise ImageError(
            errors.INVALID_ARGUMENT,
            f"the garment core has {int(core.sum())} pixels after a "
            f"{limits.core_margin_px}-pixel margin, fewer than {limits.min_core_pixels}; "
            "pass a larger mask or lower core_margin_px",
        )

    scores = _garment_scores(source, candidate, core)
    scores["seam"] = _seam_step(candidate, garment, limits.seam_ring_px)
    reason = _first_failure(scores, limits)
    return Assessment(
        passed=reason is None,
        reason=reason,
        scores=scores,
        score=_ranking_score(scores, limits),
        thresholds=limits,
    )


def _garment_scores(source: np.ndarray, candidate: np.ndarray, core: np.ndarray) -> dict:
    source_gray = cv2.cvtColor(source, cv2.COLOR_RGB2GRAY)
    candidate_gray = cv2.cvtColor(candidate, cv2.COLOR_RGB2GRAY)

    _, ssim_map = structural_similarity(
        source_gray, candidate_gray, data_range=255, gaussian_weights=True, sigma=1.5, full=True
    )
    ssim = float(ssim_map[core].mean())

    # CIEDE2000 only over the core's bounding box, to keep the Lab conversion small.
    rows, cols = np.nonzero(core)
    box = (slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1))
    inside = core[box]
    delta = deltaE_ciede2000(
        rgb2lab(source[box].astype(np.float32) / 255.0),
        rgb2lab(candidate[box].astype(np.float32) / 255.0),
    )[inside]

    return {
        "ssim": ssim,
        "ciede2000_mean": float(delta.mean()),
        "ciede2000_p95": float(np.percentile(delta, 95)),
        "edge_agreement": _edge_agreement(source_gray, candidate_gray, core),
        "hf_energy_ratio": _hf_energy_ratio(source_gray, candidate_gray, core),
    }


def _edge_agreement(source_gray: np.ndarray, candidate_gray: np.ndarray, core: np.ndarray):
    source_edges = (cv2.Canny(source_gray, 50, 150) > 0) & core
    candidate_edges = (cv2.Canny(candidate_gray, 50, 150) > 0) & core
    source_count = int(source_edges.sum())
    candidate_count = int(candidate_edges.sum())
    if source_count == 0 and candidate_count == 0:
        # A plain garment has no edges to lose.
        return 1.0
    if source_count == 0 or candidate_count == 0:
        return 0.0

    kernel = np.ones((3, 3), np.uint8)
    source_near = cv2.dilate(source_edges.astype(np.uint8), kernel) > 0
    candidate_near = cv2.dilate(candidate_edges.astype(np.uint8), kernel) > 0
    precision = float((candidate_edges & source_near).sum()) / candidate_count
    recall = float((source_edges & candidate_near).sum()) / source_count
    if precision + recall == 0:
        return 0.0
    return 2.0 * precision * recall / (precision + recall)


def _hf_energy_ratio(source_gray: np.ndarray, candidate_gray: np.ndarray, core: np.ndarray):
    source_lap = cv2.Laplacian(source_gray.astype(np.float32), cv2.CV_32F, ksize=3)
    candidate_lap = cv2.Laplacian(candidate_gray.astype(np.float32), cv2.CV_32F, ksize=3)
    source_energy = float(np.mean(source_lap[core] ** 2))
    candidate_energy = float(np.mean(candidate_lap[core] ** 2))
    # A floor of one grey level squared keeps flat garments from dividing by zero.
    floor = 1.0
    return (candidate_energy + floor) / (source_energy + floor)


def _seam_step(candidate: np.ndarray, garment: np.ndarray, ring_px: int) -> float:
    outside_distance = cv2.distanceTransform(
        (~garment).astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE
    )
    near = (outside_distance > 0) & (outside_distance <= ring_px)
    far = (outside_distance > ring_px) & (outside_distance <= 3 * ring_px)
    if near.sum() < 16 or far.sum() < 16:
        # The garment fills the canvas, so there is no seam to judge.
        return 0.0

    lab = cv2.cvtColor(candidate, cv2.COLOR_RGB2LAB).astype(np.float32)
    size = (8 * ring_px + 1, 8 * ring_px + 1)
    near_mean = _masked_box_mean(lab, near, size)
    far_mean = _masked_box_mean(lab, far, size)
    valid = near & (cv2.boxFilter(far.astype(np.float32), -1, size) > 0.05)
    if valid.sum() < 16:
        return 0.0
    step = np.linalg.norm(near_mean[valid] - far_mean[valid], axis=1)
    return float(step.mean())


def _masked_box_mean(lab: np.ndarray, region: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    weight = cv2.boxFilter(region.astype(np.float32), -1, size, normalize=True)
    total = cv2.boxFilter(lab * region[..., None], -1, size, normalize=True)
    return total / np.maximum(weight, 1e-6)[..., None]


def _first_failure(scores: dict[str, float], limits: Thresholds) -> str | None:
    checks = [
        ("ssim", scores["ssim"] >= limits.ssim_min, ">=", limits.ssim_min),
        (
            "ciede2000_mean",
            scores["ciede2000_mean"] <= limits.ciede2000_mean_max,
            "<=",
            limits.ciede2000_mean_max,
        ),
        (
            "ciede2000_p95",
            scores["ciede2000_p95"] <= limits.ciede2000_p95_max,
            "<=",
            limits.ciede2000_p95_max,
        ),
        (
            "edge_agreement",
            scores["edge_agreement"] >= limits.edge_agreement_min,
            ">=",
            limits.edge_agreement_min,
        ),
        (
            "hf_energy_ratio",
            scores["hf_energy_ratio"] >= limits.hf_energy_ratio_min,
            ">=",
            limits.hf_energy_ratio_min,
        ),
        (
            "hf_energy_ratio",
            scores["hf_energy_ratio"] <= limits.hf_energy_ratio_max,
            "<=",
            limits.hf_energy_ratio_max,
        ),
        ("seam", scores["seam"] <= limits.seam_max, "<=", limits.seam_max),
    ]
    failures = [
        f"{name} {scores[name]:.3f} is not {operator} {limit}"
        for name, ok, operator, limit in checks
        if not ok
    ]
    return "; ".join(failures) if failures else None


def _ranking_score(scores: dict[str, float], limits: Thresholds) -> float:
    """Map each score to 0..1 (0.5 at its threshold) and take the geometric mean."""

    def falloff(badness: float) -> float:
        return 1.0 / (1.0 + max(0.0, badness) ** 2)

    hf = scores["hf_energy_ratio"]
    hf_badness = (
        (1.0 - hf) / (1.0 - limits.hf_energy_ratio_min)
        if hf < 1.0
        else (hf - 1.0) / (limits.hf_energy_ratio_max - 1.0)
    )
    parts = [
        falloff((1.0 - scores["ssim"]) / (1.0 - limits.ssim_min)),
        falloff(scores["ciede2000_mean"] / limits.ciede2000_mean_max),
        falloff(scores["ciede2000_p95"] / limits.ciede2000_p95_max),
        falloff((1.0 - scores["edge_agreement"]) / (1.0 - limits.edge_agreement_min)),
        falloff(hf_badness),
        falloff(scores["seam"] / limits.seam_max),
    ]
    return float(math.exp(sum(math.log(max(part, 1e-9)) for part in parts) / len(parts)))


def _erode(mask: np.ndarray, margin: int) -> np.ndarray:
    if margin <= 0:
        return mask.copy()
    distance = cv2.distanceTransform(mask.astype(np.uint8), cv2.DIST_L2, cv2.DIST_MASK_PRECISE)
    return distance > margin

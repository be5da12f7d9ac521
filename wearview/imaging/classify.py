"""Sort product photos into `product_only` and `on_model`, with the evidence for each call.

The image signals from `signals.py` are combined by a logistic regression whose weights
live in `classifier_weights.json` (fitted by `python -m bench.train_classifier`). Each
signal's contribution is its weight times its standardised value, in log-odds, so the
evidence shows exactly how much every signal pushed the decision. Metadata (alt text,
file name, product type) adds fixed log-odds for clear keywords on top, because the
labelled images carry no metadata to fit those weights on.
"""

from __future__ import annotations

import functools
import json
import logging
import math
import os
import re
from dataclasses import dataclass, field

import numpy as np

from wearview.imaging.load import LoadedImage
from wearview.imaging.signals import ANALYSIS_SIDE, SIGNAL_NAMES, compute_signals, downscale

logger = logging.getLogger(__name__)

WEIGHTS_PATH = os.path.join(os.path.dirname(__file__), "classifier_weights.json")

PRODUCT_ONLY = "product_only"
ON_MODEL = "on_model"

PRODUCT_SUBTYPES = (
    "flat_lay",
    "ghost_mannequin",
    "mannequin",
    "hanger",
    "packshot",
    "folded",
    "detail",
    "other",
)
ON_MODEL_SUBTYPES = ("on_model_full", "on_model_cropped", "on_model_back", "other")

# Log-odds added per keyword source. Alt text is written about this very image, so it
# weighs more than a file name, which is often reused across a product's photos.
ALT_TEXT_LOG_ODDS = 3.0
FILE_NAME_LOG_ODDS = 1.5

# Dict order is match order: a back view is named before the generic phrases.
_ON_MODEL_WORDS = {
    "on_model_back": ("back view", "from behind", "rear view"),
    "on_model_full": ("model wearing", "model wears", "worn by", "on model", "on-model"),
    "on_model_cropped": ("lifestyle", "wearing", "worn", "model"),
}
_PRODUCT_WORDS = {
    "flat_lay": ("flat lay", "flatlay", "flat-lay", "laid flat"),
    "ghost_mannequin": ("ghost mannequin", "invisible mannequin", "ghost"),
    "mannequin": ("mannequin", "dress form"),
    "hanger": ("hanger", "hanging"),
    "packshot": ("packshot", "cutout", "cut-out", "white background"),
    "folded": ("folded",),
    "detail": ("detail", "close-up", "closeup", "close up", "swatch", "fabric"),
}
# Product types whose photos rarely show a person wearing the item.
_RARELY_WORN_TYPES = ("sock", "belt", "wallet", "jewel", "sunglass", "watch")


@dataclass
class Classification:
    """The kind of a product photo, its subtype, a calibrated confidence and the evidence."""

    kind: str
    subtype: str
    confidence: float
    evidence: dict = field(default_factory=dict)
    on_model_probability: float = 0.0

    def as_dict(self) -> dict[str, object]:
        """Return a JSON-serialisable record."""
        return {
            "kind": self.kind,
            "subtype": self.subtype,
            "confidence": self.confidence,
            "on_model_probability": self.on_model_probability,
            "evidence": self.evidence,
        }


@dataclass(frozen=True)
class CombinerWeights:
    """Fitted logistic-regression parameters for the image signals."""

    signals: tuple[str, ...]
    mean: np.ndarray
    scale: np.ndarray
    weights: np.ndarray
    bias: float
    temperature: float
    fitted: dict


@functools.cache
def load_weights(path: str = WEIGHTS_PATH) -> CombinerWeights:
    """Read the combiner weights file written by `bench.train_classifier`."""
    try:
        with open(path, encoding="utf-8") as handle:
            payload = json.load(handle)
    except FileNotFoundError:
        raise RuntimeError(
            f"classifier weights file {path} is missing; run "
            "`python -m bench.train_classifier --images DIR --labels CSV` to create it"
        ) from None
    signals = tuple(payload["signals"])
    if signals != SIGNAL_NAMES:
        raise RuntimeError(
            f"classifier weights file {path} was fitted on signals {signals}, but the code "
            f"computes {SIGNAL_NAMES}; refit with `python -m bench.train_classifier`"
        )
    return CombinerWeights(
        signals=signals,
        mean=np.asarray(payload["mean"], dtype=np.float64),
        scale=np.asarray(payload["scale"], dtype=np.float64),
        weights=np.asarray(payload["weights"], dtype=np.float64),
        bias=float(payload["bias"]),
        temperature=float(payload["temperature"]),
        fitted=dict(payload.get("fitted", {})),
    )


def image_signals(image: LoadedImage) -> dict[str, float]:
    """Compute the image signals for a loaded image."""
    return compute_signals(downscale(image.rgb, ANALYSIS_SIDE))


def classify_image(
    image: LoadedImage,
    *,
    alt_text: str = "",
    file_name: str = "",
    position: int | None = None,
    product_type: str = "",
) -> Classification:
    """Classify a product photo as `product_only` or `on_model`.

    Args:
        image: the loaded photo. Large images are downscaled before the detectors run.
        alt_text: the image's alt text in the shop, if any.
        file_name: the image's file name or URL path.
        position: 1-based position of the image in the product's media list. Recorded in
            the evidence but not weighted, because no labelled data with positions exists.
        product_type: the product's type in the shop's own words.

    Returns:
        A `Classification`. `confidence` is the calibrated probability of the chosen kind.
    """
    combiner = load_weights()
    signals = image_signals(image)
    values = np.array([signals[name] for name in combiner.signals], dtype=np.float64)
    contributions = combiner.weights * (values - combiner.mean) / combiner.scale

    # A signal's share is its part of the total absolute log-odds the image signals moved,
    # so a reviewer can rank them without adding up signed numbers.
    total_push = max(float(np.abs(contributions).sum()), 1e-9)
    evidence: dict[str, dict] = {}
    for name, value, contribution in zip(combiner.signals, values, contributions, strict=True):
        evidence[name] = {
            "value": round(float(value), 4),
            "log_odds": round(float(contribution), 3),
            "share": round(abs(float(contribution)) / total_push, 3),
            "fired": bool(abs(contribution) >= 0.5),
            "towards": ON_MODEL if contribution > 0 else PRODUCT_ONLY,
        }

    log_odds = combiner.bias + float(contributions.sum())
    metadata_log_odds, metadata_subtype = _metadata_evidence(
        evidence, alt_text=alt_text, file_name=file_name, product_type=product_type
    )
    if position is not None:
        evidence["position"] = {"value": position, "log_odds": 0.0, "fired": False}
    image_log_odds = log_odds
    log_odds += metadata_log_odds

    probability = _sigmoid(log_odds / combiner.temperature)
    kind = ON_MODEL if probability >= 0.5 else PRODUCT_ONLY
    confidence = probability if kind == ON_MODEL else 1.0 - probability
    subtype = _subtype(kind, signals, image, metadata_subtype)
    evidence["combined"] = {
        "image_log_odds": round(image_log_odds, 3),
        "metadata_log_odds": round(metadata_log_odds, 3),
        "temperature": combiner.temperature,
    }
    logger.debug("classified %s as %s/%s (p=%.3f)", image.name, kind, subtype, probability)
    return Classification(
        kind=kind,
        subtype=subtype,
        confidence=round(float(confidence), 4),
        evidence=evidence,
        on_model_probability=round(float(probability), 4),
    )


def _metadata_evidence(
    evidence: dict, *, alt_text: str, file_name: str, product_type: str
) -> tuple[float, str | None]:
    total = 0.0
    subtype: str | None = None
    for source, text, weight in (
        ("alt_text", alt_text, ALT_TEXT_LOG_ODDS),
        ("file_name", _words_of_file_name(file_name), FILE_NAME_LOG_ODDS),
    ):
        found_kind, found_subtype, word = _keyword_match(text)
        if found_kind is None:
            if text:
                evidence[source] = {"value": text[:200], "log_odds": 0.0, "fired": False}
            continue
        signed = weight if found_kind == ON_MODEL else -weight
        total += signed
        subtype = subtype or found_subtype
        evidence[source] = {
            "value": text[:200],
            "keyword": word,
            "log_odds": signed,
            "fired": True,
            "towards": found_kind,
        }

    if product_type:
        rarely_worn = any(part in product_type.lower() for part in _RARELY_WORN_TYPES)
        signed = -1.0 if rarely_worn else 0.0
        total += signed
        evidence["product_type"] = {
            "value": product_type,
            "log_odds": signed,
            "fired": rarely_worn,
        }
    return total, subtype


def _words_of_file_name(file_name: str) -> str:
    base = os.path.basename(file_name.split("?", 1)[0])
    return re.sub(r"[_\-.]+", " ", os.path.splitext(base)[0]).lower()


def _keyword_match(text: str) -> tuple[str | None, str | None, str | None]:
    lowered = f" {text.lower()} "
    # Product words are checked first: "mannequin" must win over "model" in a phrase
    # such as "shown on a display mannequin model".
    for subtype, words in _PRODUCT_WORDS.items():
        for word in words:
            if re.search(rf"\b{re.escape(word)}\b", lowered):
                return PRODUCT_ONLY, subtype, word
    for subtype, words in _ON_MODEL_WORDS.items():
        for word in words:
            if re.search(rf"\b{re.escape(word)}\b", lowered):
                return ON_MODEL, subtype, word
    return None, None, None


def _subtype(
    kind: str, signals: dict[str, float], image: LoadedImage, metadata_subtype: str | None
) -> str:
    """Pick a subtype from metadata when it names one, else from the image signals.

    NOTE: these rules are hand-set and untested against labels beyond the product-only
    versus on-model split; treat the subtype as a hint for reviewers.
    """
    if kind == ON_MODEL:
        if metadata_subtype in ON_MODEL_SUBTYPES:
            return metadata_subtype
        if signals["face_count"] > 0:
            return "on_model_full"
        return "on_model_cropped"

    if metadata_subtype in PRODUCT_SUBTYPES:
        return metadata_subtype
    if signals["foreground_sides"] >= 4 and signals["foreground_fraction"] > 0.85:
        return "detail"
    plain_background = signals["border_uniformity"] > 0.8
    if image.alpha is not None or (plain_background and signals["border_lightness"] > 0.85):
        return "packshot"
    if signals["foreground_symmetry"] > 0.8 and signals["foreground_bottom"] > 0.2:
        return "mannequin"
    return "flat_lay"


def _sigmoid(value: float) -> float:
    if value >= 0:
        return 1.0 / (1.0 + math.exp(-value))
    exp = math.exp(value)
    return exp / (1.0 + exp)

"""Fit the product-only versus on-model combiner and cross-validate it.

Computes the image signals for every labelled file, fits an L2-regularised logistic
regression on standardised signals, measures leave-one-out accuracy, fits a temperature on
the leave-one-out scores so the confidence is calibrated, and writes the weights file that
`wearview.imaging.classify` loads.

    python -m bench.train_classifier --images DIR --labels CSV [--output PATH]
"""

from __future__ import annotations

import argparse
import datetime
import io
import json
import logging
import os
import sys

import numpy as np
from PIL import Image

from bench.classify import read_labels
from wearview.imaging.classify import WEIGHTS_PATH, image_signals
from wearview.imaging.errors import ImageError
from wearview.imaging.load import LoadedImage, load_image
from wearview.imaging.signals import ANALYSIS_SIDE, SIGNAL_NAMES

logger = logging.getLogger(__name__)

DEFAULT_L2 = 3.0
# Shops upload photos from a few hundred to several thousand pixels, and the reduced JPEG
# decode that feeds the classifier gives different pixels at each size. The fit therefore
# also uses each photo resized to these sizes.
DEFAULT_AUGMENT_SIDES = (1024, 2048)


def photo_variants(path: str, sides: list[int]) -> list[LoadedImage]:
    """Return the photo as the classifier loads it, then as resized JPEG copies."""
    variants = [load_image(path, max_side=ANALYSIS_SIDE)]
    if not sides:
        return variants
    full = load_image(path)
    for side in sides:
        scale = side / max(full.width, full.height)
        size = (max(1, round(full.width * scale)), max(1, round(full.height * scale)))
        resized = Image.fromarray(full.rgb).resize(size, Image.Resampling.LANCZOS)
        buffer = io.BytesIO()
        resized.save(buffer, "JPEG", quality=90)
        variants.append(load_image(buffer.getvalue(), name=path, max_side=ANALYSIS_SIDE))
    return variants


def fit_logistic(features: np.ndarray, targets: np.ndarray, l2: float) -> np.ndarray:
    """Fit logistic regression by Newton's method; returns weights with the bias last."""
    design = np.hstack([features, np.ones((features.shape[0], 1))])
    weights = np.zeros(design.shape[1])
    penalty = np.full(design.shape[1], l2)
    penalty[-1] = 0.0  # the bias is not regularised
    for _ in range(50):
        probability = 1.0 / (1.0 + np.exp(-(design @ weights)))
        gradient = design.T @ (probability - targets) + penalty * weights
        curvature = probability * (1.0 - probability)
        hessian = (design * curvature[:, None]).T @ design + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if np.max(np.abs(step)) < 1e-8:
            break
    return weights


def standardise(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = features.mean(axis=0)
    scale = features.std(axis=0)
    scale[scale < 1e-9] = 1.0
    return mean, scale


def leave_one_out(
    features: np.ndarray, targets: np.ndarray, l2: float, groups: np.ndarray | None = None
) -> np.ndarray:
    """Return each sample's decision value from a model fitted without its group.

    A group is one photo with its resized copies, so no copy of a held-out photo is in
    the training rows.
    """
    groups = np.arange(len(targets)) if groups is None else groups
    values = np.zeros(len(targets))
    for group in np.unique(groups):
        held_out = groups == group
        mean, scale = standardise(features[~held_out])
        weights = fit_logistic((features[~held_out] - mean) / scale, targets[~held_out], l2)
        rows = (features[held_out] - mean) / scale
        values[held_out] = rows @ weights[:-1] + weights[-1]
    return values


def repeated_kfold(
    features: np.ndarray,
    targets: np.ndarray,
    l2: float,
    groups: np.ndarray,
    scored: np.ndarray,
    folds: int = 5,
    repeats: int = 20,
) -> tuple[float, float]:
    """Return mean and standard deviation of accuracy over repeated stratified k-fold.

    Folds are drawn over groups (photos), and accuracy counts only the `scored` rows.
    """
    rng = np.random.default_rng(0)
    group_ids = np.unique(groups)
    group_labels = np.array([targets[groups == group][0] for group in group_ids])
    scores = []
    for _ in range(repeats):
        fold_of_group = np.zeros(len(group_ids), int)
        for label in (0.0, 1.0):
            members = rng.permutation(np.nonzero(group_labels == label)[0])
            fold_of_group[members] = np.arange(len(members)) % folds
        fold_of_row = fold_of_group[np.searchsorted(group_ids, groups)]
        for fold in range(folds):
            test = fold_of_row == fold
            mean, scale = standardise(features[~test])
            weights = fit_logistic((features[~test] - mean) / scale, targets[~test], l2)
            values = ((features[test] - mean) / scale) @ weights[:-1] + weights[-1]
            kept = scored[test]
            scores.append(np.mean((values[kept] > 0) == (targets[test][kept] > 0.5)))
    return float(np.mean(scores)), float(np.std(scores))


def fit_temperature(values: np.ndarray, targets: np.ndarray) -> float:
    """Pick the temperature that minimises log loss of sigmoid(value / temperature)."""
    best, best_loss = 1.0, np.inf
    for temperature in np.linspace(0.3, 5.0, 95):
        probability = np.clip(1.0 / (1.0 + np.exp(-values / temperature)), 1e-6, 1 - 1e-6)
        loss = -np.mean(targets * np.log(probability) + (1 - targets) * np.log(1 - probability))
        if loss < best_loss:
            best, best_loss = float(temperature), float(loss)
    return best


def _ratio(numerator: float, denominator: float) -> float:
    return round(float(numerator) / float(denominator), 4) if denominator else 0.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", required=True, help="folder the label paths are relative to")
    parser.add_argument("--labels", required=True, help="CSV with columns file,label,...")
    parser.add_argument("--output", default=WEIGHTS_PATH, help="weights JSON to write")
    parser.add_argument("--l2", type=float, default=DEFAULT_L2, help="L2 penalty on weights")
    parser.add_argument(
        "--augment-sides",
        type=lambda text: [int(part) for part in text.split(",") if part],
        default=list(DEFAULT_AUGMENT_SIDES),
        help="also fit on JPEG copies resized to these longer sides in pixels, comma-separated "
        "(empty for none)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(message)s")

    rows = read_labels(args.labels)
    features, targets, groups, originals, names = [], [], [], [], []
    for index, row in enumerate(rows):
        path = os.path.join(args.images, row["file"])
        if not os.path.exists(path):
            path = os.path.join(args.images, os.path.basename(row["file"]))
        try:
            variants = photo_variants(path, args.augment_sides)
        except ImageError as exc:
            logger.warning("skipped %s: %s", path, exc)
            continue
        for variant_index, image in enumerate(variants):
            signals = image_signals(image)
            features.append([signals[name] for name in SIGNAL_NAMES])
            targets.append(1.0 if row["label"] == "on_model" else 0.0)
            groups.append(index)
            originals.append(variant_index == 0)
        names.append(row["file"])

    x = np.array(features, dtype=np.float64)
    y = np.array(targets, dtype=np.float64)
    group = np.array(groups)
    original = np.array(originals)

    loo_values = leave_one_out(x, y, args.l2, group)
    loo_predicted = (loo_values > 0)[original]
    truth = (y > 0.5)[original]
    loo_accuracy = float(np.mean(loo_predicted == truth))
    loo_all_sizes = float(np.mean((loo_values > 0) == (y > 0.5)))
    loo_rates = {
        "on_model_precision": _ratio(np.sum(loo_predicted & truth), np.sum(loo_predicted)),
        "on_model_recall": _ratio(np.sum(loo_predicted & truth), np.sum(truth)),
        "product_only_precision": _ratio(np.sum(~loo_predicted & ~truth), np.sum(~loo_predicted)),
        "product_only_recall": _ratio(np.sum(~loo_predicted & ~truth), np.sum(~truth)),
    }
    temperature = fit_temperature(loo_values, y)
    kfold_mean, kfold_std = repeated_kfold(x, y, args.l2, group, original)

    mean, scale = standardise(x)
    weights = fit_logistic((x - mean) / scale, y, args.l2)
    fitted_values = ((x - mean) / scale) @ weights[:-1] + weights[-1]
    train_accuracy = float(np.mean((fitted_values > 0)[original] == truth))

    payload = {
        "description": (
            "L2-regularised logistic regression over standardised image signals; positive "
            "decision values mean on_model. Confidence is sigmoid(value / temperature)."
        ),
        "fitted": {
            "command": "python -m bench.train_classifier --images DIR --labels CSV",
            "date": datetime.date.today().isoformat(),
            "photos": int(original.sum()),
            "rows": len(y),
            "augment_sides": args.augment_sides,
            "on_model": int(y[original].sum()),
            "product_only": int(original.sum() - y[original].sum()),
            "l2": args.l2,
            "train_accuracy": round(train_accuracy, 4),
            "leave_one_out_accuracy": round(loo_accuracy, 4),
            "leave_one_out": loo_rates,
            "leave_one_out_accuracy_all_sizes": round(loo_all_sizes, 4),
            "repeated_5_fold_accuracy": {
                "mean": round(kfold_mean, 4),
                "std": round(kfold_std, 4),
                "repeats": 20,
            },
            "leave_one_out_misclassified": [
                name for name, ok in zip(names, loo_predicted == truth, strict=True) if not ok
            ],
        },
        "signals": list(SIGNAL_NAMES),
        "mean": [round(float(value), 6) for value in mean],
        "scale": [round(float(value), 6) for value in scale],
        "weights": [round(float(value), 6) for value in weights[:-1]],
        "bias": round(float(weights[-1]), 6),
        "temperature": round(temperature, 4),
    }
    with open(args.output, "w", encoding="utf-8") as handle:
        json.dump(payload, handle, indent=2)
        handle.write("\n")
    print(json.dumps(payload["fitted"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())

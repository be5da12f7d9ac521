"""Fit the product-only versus on-model combiner and cross-validate it.

Computes the image signals for every labelled file and fits an L2-regularised logistic
regression on the standardised signals. It measures leave-one-out and repeated 5-fold
accuracy, fits a temperature on the leave-one-out scores so the confidence is calibrated,
and writes the weights file that `wearview.imaging.classify` loads. The cross-validation
is nested, so unless `--l2` fixes the penalty, every outer fold picks it by an inner
cross-validation on its own training photos.

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
from typing import NamedTuple

import numpy as np
from PIL import Image

from bench.classify import read_labels
from wearview.imaging.classify import WEIGHTS_PATH, image_signals
from wearview.imaging.errors import ImageError
from wearview.imaging.load import LoadedImage, load_image
from wearview.imaging.signals import ANALYSIS_SIDE, SIGNAL_NAMES

logger = logging.getLogger(__name__)

# Candidate L2 penalties. Each cross-validation fold picks one by an inner cross-validation
# on its own training photos, so the held-out photos never influence the penalty.
L2_GRID = (0.3, 1.0, 3.0, 10.0, 30.0)
INNER_FOLDS = 5
INNER_REPEATS = 2
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


def _decision_values(
    train: np.ndarray, targets: np.ndarray, test: np.ndarray, l2: float
) -> np.ndarray:
    mean, scale = standardise(train)
    weights = fit_logistic((train - mean) / scale, targets, l2)
    return ((test - mean) / scale) @ weights[:-1] + weights[-1]


def _stratified_group_folds(
    targets: np.ndarray, groups: np.ndarray, folds: int, rng: np.random.Generator
) -> np.ndarray:
    """Return a fold number per row, assigning whole groups and balancing the two labels."""
    group_ids = np.unique(groups)
    group_labels = np.array([targets[groups == group][0] for group in group_ids])
    fold_of_group = np.zeros(len(group_ids), int)
    for label in (0.0, 1.0):
        members = rng.permutation(np.nonzero(group_labels == label)[0])
        fold_of_group[members] = np.arange(len(members)) % folds
    return fold_of_group[np.searchsorted(group_ids, groups)]


def choose_l2(
    features: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    scored: np.ndarray,
    grid: tuple[float, ...] = L2_GRID,
    seed: int = 1,
) -> float:
    """Pick the penalty with the lowest log loss in repeated k-fold on these rows alone.

    Called on a fold's training rows, this is the inner loop of a nested cross-validation.
    Only the `scored` rows (the photos as stored, not their resized copies) count.
    """
    folds = min(INNER_FOLDS, len(np.unique(groups)))
    losses = np.zeros(len(grid))
    rng = np.random.default_rng(seed)
    for _ in range(INNER_REPEATS):
        fold_of_row = _stratified_group_folds(targets, groups, folds, rng)
        for fold in range(folds):
            test = fold_of_row == fold
            kept = scored & test
            if not kept.any() or len(np.unique(targets[~test])) < 2:
                continue
            for index, l2 in enumerate(grid):
                values = _decision_values(features[~test], targets[~test], features[kept], l2)
                probability = np.clip(1.0 / (1.0 + np.exp(-values)), 1e-6, 1 - 1e-6)
                truth = targets[kept]
                losses[index] -= np.sum(
                    truth * np.log(probability) + (1 - truth) * np.log(1 - probability)
                )
    return float(grid[int(np.argmin(losses))])


def leave_one_out(
    features: np.ndarray,
    targets: np.ndarray,
    l2: float | None,
    groups: np.ndarray | None = None,
    scored: np.ndarray | None = None,
) -> tuple[np.ndarray, list[float]]:
    """Return each sample's decision value from a model fitted without its group.

    A group is one photo with its resized copies, so no copy of a held-out photo is in
    the training rows. With `l2=None` each fold picks its penalty by `choose_l2` on its
    own training rows. Also returns the penalty used for each group.
    """
    groups = np.arange(len(targets)) if groups is None else groups
    scored = np.ones(len(targets), bool) if scored is None else scored
    values = np.zeros(len(targets))
    penalties = []
    for group in np.unique(groups):
        held_out = groups == group
        train = ~held_out
        penalty = l2
        if penalty is None:
            penalty = choose_l2(features[train], targets[train], groups[train], scored[train])
        penalties.append(penalty)
        values[held_out] = _decision_values(
            features[train], targets[train], features[held_out], penalty
        )
    return values, penalties


class KFoldResult(NamedTuple):
    """Accuracy over repeated k-fold, with per-class rates pooled over every test fold."""

    mean: float
    std: float
    rates: dict[str, float]


def class_rates(predicted: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Return precision and recall of both classes, where `True` marks on_model."""
    return {
        "on_model_precision": _ratio(np.sum(predicted & truth), np.sum(predicted)),
        "on_model_recall": _ratio(np.sum(predicted & truth), np.sum(truth)),
        "product_only_precision": _ratio(np.sum(~predicted & ~truth), np.sum(~predicted)),
        "product_only_recall": _ratio(np.sum(~predicted & ~truth), np.sum(~truth)),
    }


def repeated_kfold(
    features: np.ndarray,
    targets: np.ndarray,
    l2: float | None,
    groups: np.ndarray,
    scored: np.ndarray,
    folds: int = 5,
    repeats: int = 20,
) -> KFoldResult:
    """Return the mean and standard deviation of accuracy over repeated stratified k-fold.

    Folds are drawn over groups (photos), and accuracy counts only the `scored` rows.
    With `l2=None` each fold picks its penalty by `choose_l2` on its own training rows.
    """
    rng = np.random.default_rng(0)
    scores = []
    pooled_predicted, pooled_truth = [], []
    for _ in range(repeats):
        fold_of_row = _stratified_group_folds(targets, groups, folds, rng)
        for fold in range(folds):
            test = fold_of_row == fold
            train = ~test
            penalty = l2
            if penalty is None:
                penalty = choose_l2(features[train], targets[train], groups[train], scored[train])
            values = _decision_values(features[train], targets[train], features[test], penalty)
            kept = scored[test]
            predicted = values[kept] > 0
            truth = targets[test][kept] > 0.5
            scores.append(np.mean(predicted == truth))
            pooled_predicted.append(predicted)
            pooled_truth.append(truth)
    rates = class_rates(np.concatenate(pooled_predicted), np.concatenate(pooled_truth))
    return KFoldResult(float(np.mean(scores)), float(np.std(scores)), rates)


def confidence_table(
    values: np.ndarray, targets: np.ndarray, temperature: float
) -> list[dict[str, float]]:
    """Return the share and accuracy of the rows at or above each reported confidence."""
    probability = 1.0 / (1.0 + np.exp(-values / temperature))
    confidence = np.maximum(probability, 1.0 - probability)
    correct = (values > 0) == (targets > 0.5)
    table = []
    for threshold in (0.5, 0.6, 0.7, 0.8, 0.9):
        kept = confidence >= threshold
        table.append(
            {
                "confidence_at_least": threshold,
                "share": _ratio(np.sum(kept), len(kept)),
                "accuracy": _ratio(np.sum(correct & kept), np.sum(kept)),
            }
        )
    return table


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
    parser.add_argument(
        "--l2",
        type=float,
        default=None,
        help="fixed L2 penalty on the standardised weights; by default each fold and the "
        f"final fit pick one of {L2_GRID} by inner cross-validation",
    )
    parser.add_argument(
        "--repeats", type=int, default=20, help="repeats of the stratified 5-fold estimate"
    )
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

    loo_values, loo_penalties = leave_one_out(x, y, args.l2, group, original)
    loo_predicted = (loo_values > 0)[original]
    truth = (y > 0.5)[original]
    loo_accuracy = float(np.mean(loo_predicted == truth))
    loo_all_sizes = float(np.mean((loo_values > 0) == (y > 0.5)))
    loo_rates = class_rates(loo_predicted, truth)
    temperature = fit_temperature(loo_values, y)
    kfold = repeated_kfold(x, y, args.l2, group, original, repeats=args.repeats)

    # The shipped fit picks its penalty the same way each fold did, on all the photos.
    final_l2 = args.l2 if args.l2 is not None else choose_l2(x, y, group, original)
    mean, scale = standardise(x)
    weights = fit_logistic((x - mean) / scale, y, final_l2)
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
            "l2": final_l2,
            "l2_choice": "fixed"
            if args.l2 is not None
            else f"inner cross-validation over {list(L2_GRID)}",
            "leave_one_out_l2_counts": {
                str(value): loo_penalties.count(value) for value in sorted(set(loo_penalties))
            },
            "train_accuracy": round(train_accuracy, 4),
            "leave_one_out_accuracy": round(loo_accuracy, 4),
            "leave_one_out": loo_rates,
            "leave_one_out_accuracy_all_sizes": round(loo_all_sizes, 4),
            "repeated_5_fold_accuracy": {
                "mean": round(kfold.mean, 4),
                "std": round(kfold.std, 4),
                "repeats": args.repeats,
                **kfold.rates,
            },
            "leave_one_out_by_confidence": confidence_table(
                loo_values[original], y[original], temperature
            ),
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

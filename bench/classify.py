"""Classify every image in a folder and, with a labels file, score the classifier.

    python -m bench.classify --images DIR [--labels CSV]

The labels CSV needs the columns `file` (a path relative to DIR, or a bare file name) and
`label` (`product_only` or `on_model`). The last line printed is one JSON object with the
metrics, or with the predictions when no labels are given. `images_per_second` covers
loading, downscaling and classification in one process with one OpenCV thread by default;
`images_per_cpu_second` is the same count over the CPU time used.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import sys
import time

import cv2

from wearview.imaging.classify import ON_MODEL, PRODUCT_ONLY, classify_image
from wearview.imaging.errors import ImageError
from wearview.imaging.load import load_image
from wearview.imaging.signals import ANALYSIS_SIDE

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".tif", ".tiff", ".bmp")


def read_labels(path: str) -> list[dict[str, str]]:
    """Read a labels CSV and check it has the `file` and `label` columns."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if rows and not {"file", "label"} <= set(rows[0]):
        raise SystemExit(
            f"{path}: missing column 'file' or 'label' (found {sorted(rows[0])}); add them"
        )
    return rows


def _resolve(images: str, file_name: str) -> str:
    path = os.path.join(images, file_name)
    if os.path.exists(path):
        return path
    return os.path.join(images, os.path.basename(file_name))


def _precision_recall(pairs: list[tuple[str, str]], kind: str) -> tuple[float, float]:
    true_positive = sum(1 for truth, guess in pairs if truth == kind and guess == kind)
    predicted = sum(1 for _, guess in pairs if guess == kind)
    actual = sum(1 for truth, _ in pairs if truth == kind)
    precision = true_positive / predicted if predicted else 0.0
    recall = true_positive / actual if actual else 0.0
    return round(precision, 4), round(recall, 4)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Classify product photos in a folder.")
    parser.add_argument("--images", required=True, help="folder with the images")
    parser.add_argument("--labels", help="CSV with columns file,label (optional)")
    parser.add_argument(
        "--threads", type=int, default=1, help="OpenCV threads; 1 measures one core"
    )
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)

    if args.labels:
        rows = read_labels(args.labels)
        files = [(row["file"], row["label"]) for row in rows]
    else:
        names = sorted(
            name for name in os.listdir(args.images) if name.lower().endswith(IMAGE_SUFFIXES)
        )
        files = [(name, "") for name in names]

    predictions = []
    failures = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for file_name, label in files:
        path = _resolve(args.images, file_name)
        try:
            image = load_image(path, max_side=ANALYSIS_SIDE)
        except ImageError as exc:
            failures.append({"file": file_name, "code": exc.code, "message": str(exc)})
            continue
        result = classify_image(image)
        predictions.append(
            {
                "file": file_name,
                "label": label,
                "kind": result.kind,
                "subtype": result.subtype,
                "confidence": result.confidence,
            }
        )
    elapsed = time.perf_counter() - started
    cpu_elapsed = time.process_time() - cpu_started
    rate = round(len(predictions) / elapsed, 2) if elapsed > 0 else 0.0
    # CPU time is steadier than wall time on a shared machine; with one thread it is the
    # time of one core.
    cpu_rate = round(len(predictions) / cpu_elapsed, 2) if cpu_elapsed > 0 else 0.0

    if not args.labels:
        for prediction in predictions:
            print(json.dumps(prediction))
        summary = {
            "n": len(predictions),
            "images_per_second": rate,
            "images_per_cpu_second": cpu_rate,
            "errors": failures,
        }
        print(json.dumps(summary))
        return 0

    pairs = [(item["label"], item["kind"]) for item in predictions]
    correct = sum(1 for truth, guess in pairs if truth == guess)
    product_precision, product_recall = _precision_recall(pairs, PRODUCT_ONLY)
    model_precision, model_recall = _precision_recall(pairs, ON_MODEL)
    misclassified = [
        {
            "file": item["file"],
            "label": item["label"],
            "predicted": item["kind"],
            "confidence": item["confidence"],
        }
        for item in predictions
        if item["label"] != item["kind"]
    ]
    for item in misclassified:
        print(
            f"misclassified {item['file']}: {item['label']} predicted as {item['predicted']} "
            f"(confidence {item['confidence']:.2f})"
        )
    summary = {
        "n": len(pairs),
        "accuracy": round(correct / len(pairs), 4) if pairs else 0.0,
        "product_only_precision": product_precision,
        "product_only_recall": product_recall,
        "on_model_precision": model_precision,
        "on_model_recall": model_recall,
        "images_per_second": rate,
        "images_per_cpu_second": cpu_rate,
        "misclassified": [item["file"] for item in misclassified],
        "errors": failures,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

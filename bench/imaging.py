"""Measure imaging throughput on generated 1024-pixel garment photos.

    python -m bench.imaging [--count N] [--threads T]

Renders N synthetic garment photos whose longer side is 1024 pixels, encodes them as JPEG
and times each stage in one process: load (full decode), load for classification
(reduced JPEG decode), classify, garment mask, placement, strength map, paste-back and
assess. `--threads 1` (the default) pins OpenCV to one thread, so the figures are per
core. The last line printed is one JSON object with images per second per stage.
"""

from __future__ import annotations

import argparse
import io
import json
import platform
import sys
import time

import cv2
import numpy as np
from PIL import Image

from tests.imaging.garments import PATTERNS, SHAPES, render
from wearview.imaging.classify import classify_image
from wearview.imaging.composite import paste_back
from wearview.imaging.fidelity import assess
from wearview.imaging.load import load_image
from wearview.imaging.mask import garment_mask
from wearview.imaging.placement import place_garment
from wearview.imaging.signals import ANALYSIS_SIDE
from wearview.imaging.strength import strength_map


def _jpeg(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def _timed(results: dict[str, float], name: str, started: tuple[float, float]) -> None:
    wall, cpu = started
    results[name] = results.get(name, 0.0) + time.perf_counter() - wall
    results[f"{name}.cpu"] = results.get(f"{name}.cpu", 0.0) + time.process_time() - cpu


def _now() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Imaging throughput at 1024 pixels.")
    parser.add_argument("--count", type=int, default=24, help="number of photos to time")
    parser.add_argument("--threads", type=int, default=1, help="OpenCV threads (1 = per core)")
    args = parser.parse_args(argv)
    cv2.setNumThreads(args.threads)

    photos = []
    for index in range(args.count):
        garment = render(
            SHAPES[index % len(SHAPES)],
            PATTERNS[(index // len(SHAPES)) % len(PATTERNS)],
            width=820,
            height=1024,
            seed=index,
        )
        photos.append(_jpeg(garment.rgb))

    # Warm the cascades and the weights file outside the timed loop.
    classify_image(load_image(photos[0], max_side=ANALYSIS_SIDE))

    totals: dict[str, float] = {}
    noise = np.random.default_rng(0).integers(0, 256, (960, 768, 3), dtype=np.uint8)
    for index, data in enumerate(photos):
        name = f"photo-{index}.jpg"
        started = _now()
        image = load_image(data, name=name)
        _timed(totals, "load_full", started)

        started = _now()
        small = load_image(data, name=name, max_side=ANALYSIS_SIDE)
        _timed(totals, "load_for_classify", started)

        started = _now()
        classify_image(small)
        _timed(totals, "classify", started)

        started = _now()
        mask = garment_mask(image)
        _timed(totals, "mask", started)

        started = _now()
        placement = place_garment(image.rgb, mask.mask, category="top")
        _timed(totals, "place", started)

        started = _now()
        strength_map(placement.mask, preset="restyle")
        _timed(totals, "strength_map", started)

        started = _now()
        candidate = paste_back(noise, placement.canvas, placement.mask)
        _timed(totals, "paste_back", started)

        started = _now()
        assess(placement.canvas, candidate, placement.mask)
        _timed(totals, "assess", started)

        started = _now()
        assess(image.rgb, image.rgb, mask.mask)
        _timed(totals, "assess_1024", started)

    per_second = {
        name: round(args.count / seconds, 2)
        for name, seconds in totals.items()
        if not name.endswith(".cpu")
    }
    per_cpu_second = {
        name.removesuffix(".cpu"): round(args.count / seconds, 2)
        for name, seconds in totals.items()
        if name.endswith(".cpu") and seconds > 0
    }
    classify_path = totals["load_for_classify"] + totals["classify"]
    classify_cpu = totals["load_for_classify.cpu"] + totals["classify.cpu"]
    summary = {
        "count": args.count,
        "image_size": [820, 1024],
        "canvas_size": [768, 960],
        "opencv_threads": args.threads,
        "images_per_second": per_second,
        "images_per_cpu_second": per_cpu_second,
        "load_and_classify_images_per_second": round(args.count / classify_path, 2),
        "load_and_classify_images_per_cpu_second": round(args.count / classify_cpu, 2),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

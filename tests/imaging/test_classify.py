import csv
import json

import cv2
import numpy as np
import pytest
from PIL import Image

from bench import classify as bench_classify
from tests.imaging.garments import SHAPES, render, silhouette
from wearview.imaging.classify import (
    ON_MODEL_SUBTYPES,
    PRODUCT_SUBTYPES,
    classify_image,
    load_weights,
)
from wearview.imaging.load import LoadedImage
from wearview.imaging.signals import SIGNAL_NAMES, compute_signals

# A light skin tone that passes both skin colour rules.
SKIN_RGB = (224, 172, 140)


def loaded(rgb):
    height, width = rgb.shape[:2]
    return LoadedImage(rgb=rgb, alpha=None, width=width, height=height, format="PNG")


@pytest.fixture(scope="module")
def packshot():
    return loaded(render("tshirt", "logo", width=480, height=600, seed=2).rgb)


def test_classify_image_packshot_is_product_only(packshot):
    result = classify_image(packshot)

    assert result.kind == "product_only"
    assert result.subtype in PRODUCT_SUBTYPES
    assert 0.5 <= result.confidence <= 1.0


def test_classify_image_evidence_complete(packshot):
    result = classify_image(packshot, position=2)

    for name in SIGNAL_NAMES:
        assert name in result.evidence
        assert set(result.evidence[name]) >= {"value", "log_odds", "share", "fired"}
    assert result.evidence["position"]["value"] == 2
    assert json.loads(json.dumps(result.evidence)) == result.evidence


def test_classify_image_evidence_sums(packshot):
    result = classify_image(packshot)
    weights = load_weights()
    image_log_odds = weights.bias + sum(result.evidence[name]["log_odds"] for name in SIGNAL_NAMES)

    assert result.evidence["combined"]["image_log_odds"] == pytest.approx(image_log_odds, abs=0.05)


def test_classify_image_evidence_shares_sum(packshot):
    result = classify_image(packshot)
    shares = [result.evidence[name]["share"] for name in SIGNAL_NAMES]
    largest = max(SIGNAL_NAMES, key=lambda name: abs(result.evidence[name]["log_odds"]))

    assert sum(shares) == pytest.approx(1.0, abs=0.02)
    assert result.evidence[largest]["share"] == max(shares)


def skin_coloured_packshot(shape, colour, background, seed=0):
    """Render a plain garment in a skin-like colour with soft fold shading."""
    rng = np.random.default_rng(seed)
    height, width = 600, 480
    garment = silhouette(shape, width, height) > 0
    ys, xs = np.mgrid[0:height, 0:width]
    shading = 1.0 + 0.06 * np.sin(xs / 23.0) + 0.04 * np.sin(ys / 31.0)
    photo = np.empty((height, width, 3), np.float32)
    photo[:] = background
    photo[garment] = np.array(colour, np.float32)[None, :] * shading[garment][:, None]
    photo += rng.normal(0.0, 2.0, photo.shape)
    return loaded(np.clip(photo, 0, 255).astype(np.uint8))


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("colour", [(200, 150, 145), (190, 140, 120), (225, 190, 170)])
def test_classify_image_skin_coloured_packshot(shape, colour):
    # Dusty rose, tan and beige garments pass the skin colour rules on their own.
    image = skin_coloured_packshot(shape, colour, background=(245, 245, 245))

    result = classify_image(image)

    assert result.kind == "product_only"
    assert result.on_model_probability < 0.4


def test_compute_signals_elongated_skin_at_frame():
    limb = np.full((400, 300, 3), 235, np.uint8)
    cv2.rectangle(limb, (130, 150), (170, 399), SKIN_RGB, -1)
    palm = np.full((400, 300, 3), 235, np.uint8)
    cv2.circle(palm, (150, 200), 50, SKIN_RGB, -1)

    limb_signals = compute_signals(limb)
    palm_signals = compute_signals(palm)

    assert limb_signals["skin_elongated_area"] > 0.05
    assert limb_signals["skin_at_frame"] == 1.0
    assert palm_signals["skin_elongated_area"] == 0.0
    assert palm_signals["skin_at_frame"] == 0.0


def test_compute_signals_skin_spread_flat_versus_shaded():
    flat = np.full((400, 300, 3), 235, np.uint8)
    cv2.circle(flat, (150, 200), 80, SKIN_RGB, -1)
    shaded = flat.copy()
    # Shade the disc from left to right, as light falls on an arm.
    ramp = np.linspace(0.75, 1.1, 300, dtype=np.float32)[None, :, None]
    disc = np.zeros((400, 300), np.uint8)
    cv2.circle(disc, (150, 200), 80, 1, -1)
    shaded_pixels = np.clip(flat.astype(np.float32) * ramp, 0, 255).astype(np.uint8)
    shaded[disc > 0] = shaded_pixels[disc > 0]

    flat_signals = compute_signals(flat)
    shaded_signals = compute_signals(shaded)

    assert flat_signals["skin_lightness_spread"] < 3.0
    assert shaded_signals["skin_lightness_spread"] > flat_signals["skin_lightness_spread"] + 3.0


def test_compute_signals_plain_and_busy_borders():
    plain = np.full((400, 300, 3), 235, np.uint8)
    busy = np.random.default_rng(0).integers(0, 255, (400, 300, 3), dtype=np.uint8)

    plain_signals = compute_signals(plain)
    busy_signals = compute_signals(busy)

    assert plain_signals["top_edge_uniformity"] == 1.0
    assert plain_signals["bottom_edge_uniformity"] == 1.0
    assert plain_signals["border_spread"] == 0.0
    assert plain_signals["colorfulness"] == 0.0
    assert busy_signals["top_edge_uniformity"] < 0.1
    assert busy_signals["bottom_edge_uniformity"] < 0.1
    assert busy_signals["border_spread"] > 30.0


def test_compute_signals_compact_versus_long_silhouette():
    disc = np.full((400, 300, 3), 235, np.uint8)
    cv2.circle(disc, (150, 200), 80, (40, 40, 40), -1)
    pole = np.full((400, 300, 3), 235, np.uint8)
    cv2.rectangle(pole, (140, 20), (160, 380), (40, 40, 40), -1)

    disc_signals = compute_signals(disc)
    pole_signals = compute_signals(pole)

    assert disc_signals["silhouette_hu1"] > pole_signals["silhouette_hu1"] + 0.5
    assert pole_signals["foreground_top"] < disc_signals["foreground_top"]


def test_classify_image_alt_text_on_model(packshot):
    plain = classify_image(packshot)
    worn = classify_image(packshot, alt_text="Model wearing the organic tee, front view")

    assert worn.on_model_probability > plain.on_model_probability
    assert worn.evidence["alt_text"]["fired"] is True
    assert worn.evidence["alt_text"]["keyword"] == "model wearing"


def test_classify_image_mannequin_beats_model(packshot):
    result = classify_image(packshot, alt_text="Shown on a display mannequin model")

    assert result.kind == "product_only"
    assert result.subtype == "mannequin"
    assert result.evidence["alt_text"]["towards"] == "product_only"


def test_classify_image_file_name_keywords(packshot):
    plain = classify_image(packshot)
    flat = classify_image(packshot, file_name="https://cdn.example.test/tee_flat-lay_01.jpg")

    assert flat.on_model_probability < plain.on_model_probability
    assert flat.subtype == "flat_lay"


@pytest.fixture(scope="module")
def uncertain():
    # Random pixels leave the image signals close to undecided, so the metadata decides.
    rgb = np.random.default_rng(0).integers(0, 255, (600, 480, 3), dtype=np.uint8)
    return loaded(rgb)


def test_classify_image_back_view_subtype(uncertain):
    plain = classify_image(uncertain)
    result = classify_image(
        uncertain, alt_text="Model wearing the tee, back view", file_name="model-wearing.jpg"
    )

    assert abs(plain.evidence["combined"]["image_log_odds"]) < 2.0

    assert result.kind == "on_model"
    assert result.subtype == "on_model_back"
    assert result.subtype in ON_MODEL_SUBTYPES


def test_load_weights_records_fit():
    weights = load_weights()

    assert weights.signals == SIGNAL_NAMES
    assert weights.fitted["photos"] > 0
    assert weights.fitted["rows"] >= weights.fitted["photos"]
    assert 0.0 <= weights.fitted["leave_one_out_accuracy"] <= 1.0
    assert weights.temperature > 0


def test_load_weights_rejects_other_signals(tmp_path):
    path = tmp_path / "weights.json"
    path.write_text(json.dumps({"signals": ["face_count"], "mean": [0], "scale": [1]}))

    with pytest.raises(RuntimeError, match="refit"):
        load_weights(str(path))


def test_load_weights_missing_file(tmp_path):
    with pytest.raises(RuntimeError, match="bench.train_classifier"):
        load_weights(str(tmp_path / "absent.json"))


def test_bench_classify_prints_metrics(tmp_path, capsys):
    images = tmp_path / "images"
    images.mkdir()
    rows = []
    for index, shape in enumerate(("tshirt", "dress", "trousers")):
        name = f"g{index}.jpg"
        Image.fromarray(render(shape, "checks", width=240, height=300).rgb).save(images / name)
        rows.append({"file": f"images/{name}", "label": "product_only"})
    (images / "broken.jpg").write_bytes(b"")
    rows.append({"file": "images/broken.jpg", "label": "product_only"})
    labels = tmp_path / "labels.csv"
    with open(labels, "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["file", "label"])
        writer.writeheader()
        writer.writerows(rows)

    bench_classify.main(["--images", str(tmp_path), "--labels", str(labels)])
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])

    assert summary["n"] == 3
    for key in (
        "accuracy",
        "product_only_precision",
        "product_only_recall",
        "on_model_precision",
        "on_model_recall",
        "images_per_second",
        "misclassified",
    ):
        assert key in summary
    assert summary["errors"][0]["code"] == "empty_file"


def test_bench_classify_without_labels(tmp_path, capsys):
    Image.fromarray(render("dress", "logo", width=240, height=300).rgb).save(tmp_path / "a.png")

    bench_classify.main(["--images", str(tmp_path)])
    lines = capsys.readouterr().out.strip().splitlines()

    assert json.loads(lines[0])["file"] == "a.png"
    assert json.loads(lines[-1])["n"] == 1


@pytest.mark.parametrize(("height", "width"), [(1, 1), (3, 50), (40, 40), (2000, 30)])
def test_classify_image_odd_sizes(height, width):
    rgb = np.full((height, width, 3), 200, np.uint8)

    result = classify_image(loaded(rgb))

    assert result.kind in {"product_only", "on_model"}
    assert 0.5 <= result.confidence <= 1.0

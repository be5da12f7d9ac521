import csv
import json

import numpy as np
import pytest
from PIL import Image

from bench import classify as bench_classify
from tests.imaging.garments import render
from wearview.imaging.classify import (
    ON_MODEL_SUBTYPES,
    PRODUCT_SUBTYPES,
    classify_image,
    load_weights,
)
from wearview.imaging.load import LoadedImage
from wearview.imaging.signals import SIGNAL_NAMES


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
        assert set(result.evidence[name]) >= {"value", "log_odds", "fired"}
    assert result.evidence["position"]["value"] == 2
    assert json.loads(json.dumps(result.evidence)) == result.evidence


def test_classify_image_evidence_sums(packshot):
    result = classify_image(packshot)
    weights = load_weights()
    image_log_odds = weights.bias + sum(result.evidence[name]["log_odds"] for name in SIGNAL_NAMES)

    assert result.evidence["combined"]["image_log_odds"] == pytest.approx(image_log_odds, abs=0.05)


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


def test_classify_image_back_view_subtype(packshot):
    result = classify_image(
        packshot, alt_text="Model wearing the tee, back view", file_name="model-wearing.jpg"
    )

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

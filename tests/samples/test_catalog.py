"""Checks on the shipped sample catalog: the CSV, its images and the script that draws them."""

from __future__ import annotations

import csv
import hashlib
import io
from collections import defaultdict
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from samples import make_catalog
from samples.make_catalog import (
    COLUMNS,
    IMAGES,
    ON_MODEL_PHOTO,
    ON_MODEL_PHOTO_SHA256,
    PRODUCTS,
    encode_image,
    render_image,
)

SAMPLES_DIR = Path(make_catalog.__file__).resolve().parent
IMAGES_DIR = SAMPLES_DIR / "images"
CATALOG_CSV = SAMPLES_DIR / "catalog.csv"

# A re-rendered image may differ from the committed one only by resampling or JPEG coder
# rounding between Pillow releases: a small mean error and almost no large errors. Visible
# edits exceed the large-error limit: one added letter in the tee slogan changes 0.5 % of the
# pixels by more than 40 levels, and moving its 40-pixel logo by 6 pixels changes 0.13 %.
MAX_MEAN_ERROR = 1.0
MAX_LARGE_ERROR_FRACTION = 0.0005
LARGE_ERROR = 40


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    with CATALOG_CSV.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.fixture(scope="module")
def products(rows: list[dict[str, str]]) -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = defaultdict(list)
    for row in rows:
        grouped[row["Handle"]].append(row)
    return dict(grouped)


def _image_names(rows: list[dict[str, str]]) -> set[str]:
    return {row["Image Src"] for row in rows if row["Image Src"]}


def test_catalog_csv_header_is_shopify_columns() -> None:
    with CATALOG_CSV.open(newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert tuple(header) == COLUMNS


def test_catalog_csv_rows_parse(rows: list[dict[str, str]]) -> None:
    assert len(rows) == 45
    for row in rows:
        assert None not in row, f"row has more fields than the header: {row}"
        assert row["Handle"], f"row without a handle: {row}"


def test_catalog_csv_product_fields(products: dict[str, list[dict[str, str]]]) -> None:
    assert len(products) == 11
    for handle, product_rows in products.items():
        first = product_rows[0]
        assert first["Title"], f"{handle} has no title"
        assert first["Vendor"], f"{handle} has no vendor"
        assert first["Tags"], f"{handle} has no tags"
        assert first["Published"] == "true"
        assert first["Option1 Name"], f"{handle} has no option name"


def test_catalog_csv_product_types(products: dict[str, list[dict[str, str]]]) -> None:
    types = {product_rows[0]["Type"] for product_rows in products.values()}
    assert types == {
        "T-Shirts", "Tops", "Shirts", "Dresses", "Skirts", "Hoodies", "Jeans", "Jackets",
        "Bags", "Shoes",
    }  # fmt: skip


def test_catalog_csv_sizes_on_most_garments(products: dict[str, list[dict[str, str]]]) -> None:
    sized = [
        handle
        for handle, product_rows in products.items()
        if {"S", "M", "L"}
        <= {row["Option1 Value"] for row in product_rows}
        | {row["Option2 Value"] for row in product_rows}
    ]
    assert len(sized) >= 7, sized


def test_catalog_image_files_exist(rows: list[dict[str, str]]) -> None:
    for row in rows:
        for column in ("Image Src", "Variant Image"):
            name = row[column]
            if name:
                assert Path(name).name == name, f"{column} {name!r} is not a bare file name"
                assert (IMAGES_DIR / name).is_file(), f"{column} {name!r} is missing"


def test_catalog_every_product_has_image(products: dict[str, list[dict[str, str]]]) -> None:
    for handle, product_rows in products.items():
        positions = [row["Image Position"] for row in product_rows if row["Image Src"]]
        assert positions, f"{handle} has no image"
        assert positions == [str(i) for i in range(1, len(positions) + 1)], handle


def test_catalog_variant_images_belong_to_product(
    products: dict[str, list[dict[str, str]]],
) -> None:
    for handle, product_rows in products.items():
        listed = _image_names(product_rows)
        for row in product_rows:
            if row["Variant Image"]:
                assert row["Variant Image"] in listed, f"{handle}: {row['Variant Image']}"


def test_catalog_colour_variants_have_own_images(
    products: dict[str, list[dict[str, str]]],
) -> None:
    with_colours = []
    for handle, product_rows in products.items():
        if product_rows[0]["Option1 Name"] != "Color":
            continue
        by_colour = {
            row["Option1 Value"]: row["Variant Image"]
            for row in product_rows
            if row["Option1 Value"]
        }
        assert all(by_colour.values()), f"{handle} has a colour without a variant image"
        assert len(set(by_colour.values())) == len(by_colour), handle
        with_colours.append(handle)
    assert len(with_colours) >= 2, with_colours


def test_catalog_all_files_listed(rows: list[dict[str, str]]) -> None:
    on_disk = {path.name for path in IMAGES_DIR.iterdir() if path.is_file()}
    assert on_disk == _image_names(rows)
    assert on_disk == set(IMAGES) | {ON_MODEL_PHOTO}


def test_catalog_images_under_four_megabytes() -> None:
    total = sum(path.stat().st_size for path in IMAGES_DIR.iterdir())
    assert total < 4 * 1024 * 1024, total


def test_on_model_photo_paired_with_packshot(products: dict[str, list[dict[str, str]]]) -> None:
    product_rows = products["raglan-heather-tee"]
    images = [
        (row["Image Position"], row["Image Src"], row["Image Alt Text"])
        for row in product_rows
        if row["Image Src"]
    ]
    assert images[0][1] in IMAGES, "the first image must be a generated packshot"
    assert images[1][1] == ON_MODEL_PHOTO
    assert "model wears" in images[1][2].lower()


def test_on_model_photo_is_original() -> None:
    data = (IMAGES_DIR / ON_MODEL_PHOTO).read_bytes()
    assert hashlib.sha256(data).hexdigest() == ON_MODEL_PHOTO_SHA256


def test_only_one_photo_is_not_generated(rows: list[dict[str, str]]) -> None:
    assert _image_names(rows) - set(IMAGES) == {ON_MODEL_PHOTO}


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_generated_image_format_and_background(name: str) -> None:
    spec = IMAGES[name]
    with Image.open(IMAGES_DIR / name) as image:
        assert image.size == (spec.width, spec.height)
        if spec.background is None:
            assert image.format == "PNG"
            alpha = np.asarray(image.getchannel("A"))
            assert alpha[0, 0] == 0, "a cut-out PNG needs a transparent background"
            coverage = alpha > 250
        else:
            assert image.format == "JPEG"
            luma = np.asarray(image.convert("L"), np.int16)
            corners = [luma[:8, :8], luma[:8, -8:], luma[-8:, :8], luma[-8:, -8:]]
            for corner in corners:
                assert corner.min() >= 215, f"{name}: background is not white or light grey"
            coverage = np.abs(luma - int(np.median(luma[:8, :8]))) > 15

    # The garment sits centred in the frame and fills a good part of it.
    ys, xs = np.nonzero(coverage)
    centre_x = (xs.min() + xs.max()) / 2 / spec.width
    centre_y = (ys.min() + ys.max()) / 2 / spec.height
    assert abs(centre_x - 0.5) < 0.08, f"{name}: centred at x={centre_x:.2f}"
    assert abs(centre_y - 0.5) < 0.08, f"{name}: centred at y={centre_y:.2f}"
    extent = max((xs.max() - xs.min()) / spec.width, (ys.max() - ys.min()) / spec.height)
    assert extent > 0.55, f"{name}: garment spans only {extent:.0%} of the frame"


def test_stripes_have_sharp_edges() -> None:
    with Image.open(IMAGES_DIR / "breton-stripe-top-1.jpg") as image:
        column = np.asarray(image.convert("L"), np.int16)[330:700, 384]
    ground = column > 190
    stripe = column < 90
    blurred = ~(ground | stripe)
    transitions = int(np.count_nonzero(ground[1:] != ground[:-1]))
    assert transitions >= 20, "expected many stripe edges down the front"
    assert np.count_nonzero(blurred) <= 1.5 * transitions


def test_render_image_deterministic() -> None:
    first = render_image("slogan-crew-tee-1.jpg")
    second = render_image("slogan-crew-tee-1.jpg")
    assert np.array_equal(np.asarray(first), np.asarray(second))
    assert encode_image(first, "slogan-crew-tee-1.jpg") == encode_image(
        second, "slogan-crew-tee-1.jpg"
    )


def test_render_image_unknown_name() -> None:
    with pytest.raises(KeyError, match="'no-such-image.jpg' is not a generated sample image"):
        render_image("no-such-image.jpg")


@pytest.mark.parametrize("name", sorted(IMAGES))
def test_committed_image_matches_script(name: str) -> None:
    rendered = encode_image(render_image(name), name)
    committed = (IMAGES_DIR / name).read_bytes()
    if rendered == committed:
        return

    # Other Pillow builds may round differently, so compare decoded pixels with a tolerance.
    with Image.open(io.BytesIO(rendered)) as image:
        new = np.asarray(image.convert("RGBA"), np.int16)
    with Image.open(IMAGES_DIR / name) as image:
        old = np.asarray(image.convert("RGBA"), np.int16)
    assert new.shape == old.shape
    error = np.abs(new - old)
    assert error.mean() <= MAX_MEAN_ERROR, f"{name}: mean error {error.mean():.3f}"
    large = float((error.max(axis=2) > LARGE_ERROR).mean())
    assert large <= MAX_LARGE_ERROR_FRACTION, (
        f"{name}: {large:.4%} of pixels differ by > {LARGE_ERROR}"
    )


def test_write_catalog_csv_matches_committed(tmp_path: Path) -> None:
    written = tmp_path / "catalog.csv"
    rows = make_catalog.write_catalog_csv(written)
    assert rows == 45
    assert written.read_text(encoding="utf-8") == CATALOG_CSV.read_text(encoding="utf-8")


def test_copy_on_model_photo_to_other_folder(tmp_path: Path) -> None:
    copied = make_catalog.copy_on_model_photo(tmp_path)
    assert copied.read_bytes() == (IMAGES_DIR / ON_MODEL_PHOTO).read_bytes()


def test_products_list_matches_csv(products: dict[str, list[dict[str, str]]]) -> None:
    assert [product.handle for product in PRODUCTS] == list(products)

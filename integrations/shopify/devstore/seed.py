"""Seed a dev store shop from a file in Shopify's product CSV format and a folder of images."""

from __future__ import annotations

import csv
import logging
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

from .media import ImageInfo, inspect_image
from .models import MediaImage, Product, Shop, Variant, next_id

logger = logging.getLogger(__name__)

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".gif", ".webp"}


@dataclass
class SeedReport:
    """Counts of what a seed run created, and the image names it skipped."""

    products: int = 0
    variants: int = 0
    images: int = 0
    unmatched_images: list[str] = field(default_factory=list)
    rejected_images: list[str] = field(default_factory=list)


def image_file_name(source: str) -> str:
    """Return the file name an `Image Src` value points at, for a URL or a bare name."""
    path = urlparse(source).path if "://" in source else source
    return Path(path).name


class ImageFolder:
    """Index of a folder of images by file name, with each file checked once."""

    def __init__(self, folder: str | Path | None) -> None:
        self.paths: dict[str, Path] = {}
        self._checked: dict[Path, ImageInfo | None] = {}
        if folder is None:
            return
        root = Path(folder)
        if not root.is_dir():
            raise ValueError(
                f"Images folder {str(root)!r} does not exist; pass an existing folder."
            )
        for path in sorted(root.rglob("*")):
            if path.is_file() and path.suffix.lower() in IMAGE_SUFFIXES:
                self.paths.setdefault(path.name, path)

    def find(self, name: str) -> Path | None:
        return self.paths.get(name)

    def check(self, path: Path) -> ImageInfo | None:
        if path not in self._checked:
            result = inspect_image(path.read_bytes())
            self._checked[path] = result if isinstance(result, ImageInfo) else None
        return self._checked[path]


def _truthy(value: str) -> bool:
    return value.strip().lower() in ("true", "1", "yes")


def _status(row: dict[str, str]) -> str:
    status = (row.get("Status") or "").strip().upper()
    if status in ("ACTIVE", "DRAFT", "ARCHIVED", "UNLISTED"):
        return status
    published = row.get("Published")
    if published is None or published.strip() == "" or _truthy(published):
        return "ACTIVE"
    return "DRAFT"


def _is_variant_row(row: dict[str, str]) -> bool:
    keys = ("Option1 Value", "Variant SKU", "Variant Price")
    return any((row.get(key) or "").strip() for key in keys)


def _read_rows(path: Path) -> dict[str, list[dict[str, str]]]:
    with path.open(newline="", encoding="utf-8-sig") as handle:
        reader = csv.DictReader(handle)
        missing = {"Handle", "Title"} - set(reader.fieldnames or [])
        if missing:
            raise ValueError(
                f"Product CSV {str(path)!r} lacks the columns {sorted(missing)}; "
                "use Shopify's product CSV format."
            )
        rows_by_handle: dict[str, list[dict[str, str]]] = {}
        for row in reader:
            handle_value = (row.get("Handle") or "").strip()
            if handle_value:
                rows_by_handle.setdefault(handle_value, []).append(row)
    return rows_by_handle


def seed_shop(shop: Shop, csv_path: str | Path, images: ImageFolder) -> SeedReport:
    """Add the products of a Shopify product CSV to `shop`.

    Rows with the same `Handle` form one product: the first row carries the product fields,
    rows with option values or a SKU add variants, and rows with `Image Src` add images.
    `Image Src` is matched by file name against `images`. A name with no file, and a file
    Shopify would reject, are listed in the report and skipped.
    """
    report = SeedReport()
    path = Path(csv_path)
    if not path.is_file():
        raise ValueError(f"Product CSV {str(path)!r} does not exist; pass an existing file.")
    try:
        rows_by_handle = _read_rows(path)
    except UnicodeDecodeError as exc:
        raise ValueError(
            f"Product CSV {str(path)!r} is not valid UTF-8 (byte {exc.start}); save it as "
            "UTF-8, the encoding of Shopify's exports."
        ) from None
    except csv.Error as exc:
        raise ValueError(
            f"Product CSV {str(path)!r} is invalid: {exc}; fix the quoting or shorten the field."
        ) from None

    existing_handles = {product.handle for product in shop.products.values()}
    for handle_value, rows in rows_by_handle.items():
        if handle_value in existing_handles:
            logger.warning(
                "Seed skipped handle %s: it already exists in %s", handle_value, shop.domain
            )
            continue
        product = _build_product(shop, handle_value, rows, images, report)
        shop.products[product.id] = product
        report.products += 1
        report.variants += len(product.variants)
    logger.info(
        "Seeded %s from %s: %d products, %d variants, %d images, %d unmatched image names",
        shop.domain,
        path.name,
        report.products,
        report.variants,
        report.images,
        len(report.unmatched_images),
    )
    return report


def _build_product(
    shop: Shop,
    handle_value: str,
    rows: list[dict[str, str]],
    images: ImageFolder,
    report: SeedReport,
) -> Product:
    first = rows[0]
    product = Product(
        id=next_id("Product"),
        shop_domain=shop.domain,
        handle=handle_value,
        title=(first.get("Title") or handle_value).strip(),
        body_html=first.get("Body (HTML)") or "",
        vendor=(first.get("Vendor") or "").strip(),
        product_type=(first.get("Type") or "").strip(),
        tags=[tag.strip() for tag in (first.get("Tags") or "").split(",") if tag.strip()],
        status=_status(first),
    )
    product.option_names = [
        (first.get(f"Option{index} Name") or "").strip()
        for index in (1, 2, 3)
        if (first.get(f"Option{index} Name") or "").strip()
    ] or ["Title"]

    # Images come before variants so that `Variant Image` can point at one of them. All
    # `Image Src` cells are read before any `Variant Image` cell, so that a file named by both
    # keeps the position its `Image Src` row gives it.
    media_by_name: dict[str, MediaImage] = {}
    positioned: list[tuple[int, int, MediaImage]] = []
    cells = [
        (column, order, row)
        for column in ("Image Src", "Variant Image")
        for order, row in enumerate(rows)
    ]
    for column, order, row in cells:
        source = (row.get(column) or "").strip()
        if not source:
            continue
        name = image_file_name(source)
        if name in media_by_name:
            continue
        media = _seed_image(shop, product, name, row, column, images, report)
        if media is None:
            continue
        media_by_name[name] = media
        position_text = (row.get("Image Position") or "").strip() if column == "Image Src" else ""
        position = int(position_text) if position_text.isdigit() else 10_000 + order
        positioned.append((position, order, media))
    product.media_ids = [media.id for _, _, media in sorted(positioned, key=lambda x: x[:2])]

    for row in rows:
        if not _is_variant_row(row):
            continue
        values = [(row.get(f"Option{index} Value") or "").strip() for index in (1, 2, 3)]
        values = values[: len(product.option_names)]
        variant = Variant(
            id=next_id("ProductVariant"),
            product_id=product.id,
            title=" / ".join(value for value in values if value) or "Default Title",
            sku=(row.get("Variant SKU") or "").strip(),
            price=_money(row.get("Variant Price")),
            position=len(product.variants) + 1,
            options=values,
            barcode=(row.get("Variant Barcode") or "").strip(),
            compare_at_price=_money(row.get("Variant Compare At Price")) or None,
            inventory_quantity=_int(row.get("Variant Inventory Qty")),
            inventory_policy=(row.get("Variant Inventory Policy") or "deny").strip().upper(),
            taxable=_truthy(row.get("Variant Taxable") or "true"),
        )
        variant_image = image_file_name((row.get("Variant Image") or "").strip())
        if variant_image and variant_image in media_by_name:
            variant.media_ids = [media_by_name[variant_image].id]
        product.variants.append(variant)
    if not product.variants:
        product.variants.append(
            Variant(
                id=next_id("ProductVariant"),
                product_id=product.id,
                title="Default Title",
                sku="",
                price="0.00",
                position=1,
                options=["Default Title"],
            )
        )
    return product


def _seed_image(
    shop: Shop,
    product: Product,
    name: str,
    row: dict[str, str],
    column: str,
    images: ImageFolder,
    report: SeedReport,
) -> MediaImage | None:
    path = images.find(name)
    if path is None:
        report.unmatched_images.append(f"{product.handle}: {name}")
        logger.warning("Seed found no file named %s for %s in %s", name, column, product.handle)
        return None
    info = images.check(path)
    if info is None:
        report.rejected_images.append(f"{product.handle}: {name}")
        logger.warning("Seed skipped %s for %s: Shopify would reject it", name, product.handle)
        return None
    media = MediaImage(
        id=next_id("MediaImage"),
        shop_domain=shop.domain,
        filename=name,
        alt=(row.get("Image Alt Text") or "").strip() if column == "Image Src" else "",
        status="READY",
        original_source=name,
        source_path=path,
        mime_type=info.mime_type,
        width=info.width,
        height=info.height,
        product_ids=[product.id],
    )
    shop.files[media.id] = media
    report.images += 1
    return media


def _money(value: str | None) -> str:
    text = (value or "").strip()
    if not text:
        return ""
    try:
        return f"{float(text):.2f}"
    except ValueError:
        return text


def _int(value: str | None) -> int:
    text = (value or "").strip()
    try:
        return int(float(text)) if text else 0
    except ValueError:
        return 0

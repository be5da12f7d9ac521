"""Generate a sample catalog in Shopify's product CSV format, with images drawn by code."""

from __future__ import annotations

import csv
import random
from pathlib import Path

from PIL import Image, ImageDraw

CSV_COLUMNS = [
    "Handle",
    "Title",
    "Body (HTML)",
    "Vendor",
    "Type",
    "Tags",
    "Published",
    "Option1 Name",
    "Option1 Value",
    "Option2 Name",
    "Option2 Value",
    "Option3 Name",
    "Option3 Value",
    "Variant SKU",
    "Variant Grams",
    "Variant Inventory Tracker",
    "Variant Inventory Qty",
    "Variant Inventory Policy",
    "Variant Fulfillment Service",
    "Variant Price",
    "Variant Compare At Price",
    "Variant Requires Shipping",
    "Variant Taxable",
    "Variant Barcode",
    "Image Src",
    "Image Position",
    "Image Alt Text",
    "Gift Card",
    "Variant Image",
    "Variant Weight Unit",
    "Status",
]
SIZES = ["XS", "S", "M", "L", "XL", "XXL"]
KINDS = [("Tee", "Tops"), ("Shirt", "Tops"), ("Skirt", "Bottoms"), ("Jacket", "Outerwear")]


def draw_flat_lay(path: Path, width: int, height: int, color: tuple[int, int, int]) -> None:
    """Draw a T-shirt silhouette on a light background, like a flat-lay product photo."""
    image = Image.new("RGB", (width, height), (244, 243, 240))
    draw = ImageDraw.Draw(image)
    w, h = width, height
    outline = [
        (0.30 * w, 0.12 * h),
        (0.42 * w, 0.10 * h),
        (0.50 * w, 0.16 * h),
        (0.58 * w, 0.10 * h),
        (0.70 * w, 0.12 * h),
        (0.92 * w, 0.30 * h),
        (0.80 * w, 0.40 * h),
        (0.72 * w, 0.33 * h),
        (0.72 * w, 0.90 * h),
        (0.28 * w, 0.90 * h),
        (0.28 * w, 0.33 * h),
        (0.20 * w, 0.40 * h),
        (0.08 * w, 0.30 * h),
    ]
    draw.polygon(outline, fill=color)
    image.save(path, "JPEG", quality=85)


def write_sample_catalog(
    folder: str | Path,
    *,
    products: int = 20,
    variants_per_product: int = 2,
    images_per_product: int = 3,
    image_size: tuple[int, int] = (240, 300),
    seed: int = 0,
) -> Path:
    """Write `products.csv` and an `images` folder under `folder`, and return the CSV path.

    Every product gets its own image files, so a sync that stores images by content hash
    finds each of them new. The first variant of each product points at its second image
    through `Variant Image`.
    """
    if not 1 <= variants_per_product <= len(SIZES):
        raise ValueError(
            f"variants_per_product={variants_per_product} must be between 1 and {len(SIZES)}."
        )
    if images_per_product < 0:
        raise ValueError(f"images_per_product={images_per_product} must not be negative.")
    root = Path(folder)
    images = root / "images"
    images.mkdir(parents=True, exist_ok=True)
    generator = random.Random(seed)
    csv_path = root / "products.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        for index in range(products):
            kind, product_type = KINDS[index % len(KINDS)]
            handle_name = f"sample-{kind.lower()}-{index:05d}"
            names = [f"{handle_name}-{number}.jpg" for number in range(1, images_per_product + 1)]
            for name in names:
                color = tuple(generator.randrange(30, 220) for _ in range(3))
                draw_flat_lay(images / name, *image_size, color)
            rows = max(variants_per_product, images_per_product)
            for row_number in range(rows):
                row = {column: "" for column in CSV_COLUMNS}
                row["Handle"] = handle_name
                if row_number == 0:
                    row.update(
                        {
                            "Title": f"Sample {kind} {index}",
                            "Body (HTML)": f"<p>Cotton {kind.lower()}, flat-lay photo only.</p>",
                            "Vendor": "WearView Samples",
                            "Type": product_type,
                            "Tags": f"sample, {product_type.lower()}",
                            "Published": "true",
                            "Option1 Name": "Size",
                            "Status": "active",
                        }
                    )
                if row_number < variants_per_product:
                    row.update(
                        {
                            "Option1 Value": SIZES[row_number],
                            "Variant SKU": f"{handle_name.upper()}-{SIZES[row_number]}",
                            "Variant Price": f"{19 + index % 40}.00",
                            "Variant Inventory Qty": "10",
                            "Variant Inventory Policy": "deny",
                            "Variant Taxable": "true",
                        }
                    )
                    if row_number == 0 and len(names) > 1:
                        row["Variant Image"] = names[1]
                if row_number < len(names):
                    row["Image Src"] = names[row_number]
                    row["Image Position"] = str(row_number + 1)
                    row["Image Alt Text"] = f"Sample {kind} {index}, flat lay"
                writer.writerow(row)
    return csv_path

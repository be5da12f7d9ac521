"""Render the sample catalog: garment packshots plus a Shopify product CSV that lists them.

Run from the repository root:

    python -m samples.make_catalog            # rewrites samples/images/ and samples/catalog.csv
    python -m samples.make_catalog --out DIR  # writes DIR/images/ and DIR/catalog.csv

Every image except `ON_MODEL_PHOTO` is drawn here from fixed seeds with Pillow and NumPy, so
the same Pillow and NumPy versions give byte-identical files. `ON_MODEL_PHOTO` is a real
photograph kept in the images folder, and samples/README.md records its provenance. The
script only checks its checksum and copies it when writing to another folder.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import io
import logging
import shutil
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from samples import garments
from samples.drawing import Colour, Sketch, studio_photo

logger = logging.getLogger(__name__)

SEED = 20261204
SAMPLES_DIR = Path(__file__).resolve().parent
JPEG_QUALITY = 90

WHITE: Colour = (255, 255, 255)
LIGHT_GREY: Colour = (242, 242, 240)
STUDIO_GREY: Colour = (226, 227, 229)

# Shopify's product CSV columns, in the order of Shopify's own sample import files.
COLUMNS = (
    "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name",
    "Option3 Value", "Variant SKU", "Variant Grams", "Variant Inventory Tracker",
    "Variant Inventory Qty", "Variant Inventory Policy", "Variant Fulfillment Service",
    "Variant Price", "Variant Compare At Price", "Variant Requires Shipping", "Variant Taxable",
    "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card", "SEO Title",
    "SEO Description", "Google Shopping / Google Product Category", "Google Shopping / Gender",
    "Google Shopping / Age Group", "Google Shopping / MPN", "Google Shopping / AdWords Grouping",
    "Google Shopping / AdWords Labels", "Google Shopping / Condition",
    "Google Shopping / Custom Product", "Google Shopping / Custom Label 0",
    "Google Shopping / Custom Label 1", "Google Shopping / Custom Label 2",
    "Google Shopping / Custom Label 3", "Google Shopping / Custom Label 4", "Variant Image",
    "Variant Weight Unit", "Variant Tax Code",
)  # fmt: skip

# The one photo that is not generated: a person wearing the raglan tee.
ON_MODEL_PHOTO = "raglan-heather-tee-2.jpg"
ON_MODEL_PHOTO_SHA256 = "9dc41c51692de9f62c4b20b1a5db03cc2a13e891b7d015adf6a00f351de0abea"


@dataclass(frozen=True)
class ImageSpec:
    """One generated packshot: its size, its garment drawing and its studio background.

    `background` None produces a PNG cut-out with a transparent background.
    """

    width: int
    height: int
    draw: Callable[[Sketch], None]
    background: Colour | None = WHITE


IMAGES: dict[str, ImageSpec] = {
    # A white garment is shot on grey, because on white its outline would vanish.
    "slogan-crew-tee-1.jpg": ImageSpec(
        768,
        960,
        lambda s: garments.slogan_tee(s, (246, 245, 241), (28, 42, 74), (214, 212, 206)),
        STUDIO_GREY,
    ),
    "slogan-crew-tee-2.jpg": ImageSpec(
        768, 960, lambda s: garments.slogan_tee(s, (36, 36, 38), (238, 234, 222), (70, 70, 72))
    ),
    "raglan-heather-tee-1.jpg": ImageSpec(
        768, 960, lambda s: garments.raglan_tee(s, (84, 84, 86), (30, 30, 32)), LIGHT_GREY
    ),
    "breton-stripe-top-1.jpg": ImageSpec(
        768, 960, lambda s: garments.breton_top(s, (240, 235, 222), (30, 40, 78)), LIGHT_GREY
    ),
    "breton-stripe-top-2.jpg": ImageSpec(
        768, 960, lambda s: garments.breton_top(s, (240, 235, 222), (176, 34, 40)), LIGHT_GREY
    ),
    "gingham-button-shirt-1.jpg": ImageSpec(
        768,
        960,
        lambda s: garments.gingham_shirt(s, (250, 250, 250), (48, 86, 160), (240, 238, 230)),
    ),
    "polka-dot-midi-dress-1.jpg": ImageSpec(
        768, 960, lambda s: garments.polka_dot_dress(s, (28, 38, 70), (245, 242, 232))
    ),
    "pleated-midi-skirt-1.png": ImageSpec(
        768, 960, lambda s: garments.pleated_skirt(s, (128, 148, 120)), None
    ),
    "coastline-hoodie-1.jpg": ImageSpec(
        768, 960, lambda s: garments.hoodie(s, (152, 154, 152), (30, 40, 60)), LIGHT_GREY
    ),
    "coastline-hoodie-2.jpg": ImageSpec(
        768, 960, lambda s: garments.hoodie(s, (48, 78, 58), (236, 230, 214)), LIGHT_GREY
    ),
    "straight-leg-jeans-1.jpg": ImageSpec(
        768, 960, lambda s: garments.straight_jeans(s, (58, 82, 128), (200, 140, 60))
    ),
    "olive-bomber-jacket-1.jpg": ImageSpec(
        768, 960, lambda s: garments.bomber_jacket(s, (92, 98, 62), (32, 36, 48), (196, 100, 40))
    ),
    "market-canvas-tote-1.jpg": ImageSpec(
        1000,
        1000,
        lambda s: garments.tote_bag(s, (236, 228, 210), (30, 60, 50), (200, 190, 170)),
        LIGHT_GREY,
    ),
    "court-sneakers-1.jpg": ImageSpec(
        1000, 1000, lambda s: garments.sneakers(s, (244, 243, 238), (40, 90, 70), (206, 160, 104))
    ),
}


@dataclass(frozen=True)
class Product:
    """One catalog product: its listing fields, option axes and images in display order.

    `variant_images` maps a value of the first option (a colour) to the image that shows
    that colour. Products without it show every image for every variant.
    """

    handle: str
    title: str
    product_type: str
    tags: str
    description: str
    price: str
    grams: int
    gender: str
    options: tuple[tuple[str, tuple[str, ...]], ...]
    images: tuple[tuple[str, str], ...]
    variant_images: dict[str, str] = field(default_factory=dict)


SIZES = ("S", "M", "L")
VENDOR = "WearView Sample Studio"

PRODUCTS: tuple[Product, ...] = (
    Product(
        handle="slogan-crew-tee",
        title="Good Things Slogan Tee",
        product_type="T-Shirts",
        tags="unisex, t-shirts, cotton, graphic tee, slogan",
        description="<p>Crew-neck tee in 180 g/m² combed cotton jersey with a screen-printed "
        "chest slogan and a small mountain badge.</p>",
        price="28.00",
        grams=180,
        gender="unisex",
        options=(("Color", ("White", "Black")), ("Size", SIZES)),
        images=(
            ("slogan-crew-tee-1.jpg", "Good Things Slogan Tee in white, front view"),
            ("slogan-crew-tee-2.jpg", "Good Things Slogan Tee in black, front view"),
        ),
        variant_images={"White": "slogan-crew-tee-1.jpg", "Black": "slogan-crew-tee-2.jpg"},
    ),
    Product(
        handle="raglan-heather-tee",
        title="Raglan Heather Tee",
        product_type="T-Shirts",
        tags="men, t-shirts, cotton blend, raglan",
        description="<p>Charcoal mélange jersey tee with contrast black raglan sleeves and "
        "neckband.</p>",
        price="24.00",
        grams=170,
        gender="male",
        options=(("Size", SIZES),),
        images=(
            ("raglan-heather-tee-1.jpg", "Raglan Heather Tee in charcoal, front view"),
            (ON_MODEL_PHOTO, "Model wears the Raglan Heather Tee in charcoal with black sleeves"),
        ),
    ),
    Product(
        handle="breton-stripe-top",
        title="Breton Stripe Top",
        product_type="Tops",
        tags="women, tops, stripes, long sleeve, cotton",
        description="<p>Boat-neck long-sleeve top in heavy cotton jersey with yarn-dyed "
        "Breton stripes below a plain yoke.</p>",
        price="45.00",
        grams=260,
        gender="female",
        options=(("Color", ("Navy Stripe", "Red Stripe")), ("Size", SIZES)),
        images=(
            ("breton-stripe-top-1.jpg", "Breton Stripe Top, ecru with navy stripes"),
            ("breton-stripe-top-2.jpg", "Breton Stripe Top, ecru with red stripes"),
        ),
        variant_images={
            "Navy Stripe": "breton-stripe-top-1.jpg",
            "Red Stripe": "breton-stripe-top-2.jpg",
        },
    ),
    Product(
        handle="gingham-button-shirt",
        title="Gingham Button-Down Shirt",
        product_type="Shirts",
        tags="men, shirts, gingham, checks, cotton poplin",
        description="<p>Long-sleeve poplin shirt in blue gingham with a point collar, chest "
        "pocket and buttoned cuffs.</p>",
        price="55.00",
        grams=240,
        gender="male",
        options=(("Size", SIZES),),
        images=(("gingham-button-shirt-1.jpg", "Gingham Button-Down Shirt in blue, front view"),),
    ),
    Product(
        handle="polka-dot-midi-dress",
        title="Polka Dot Midi Dress",
        product_type="Dresses",
        tags="women, dresses, polka dot, midi, viscose",
        description="<p>Navy viscose midi dress with white polka dots, flutter sleeves and a "
        "self-tie waist.</p>",
        price="79.00",
        grams=320,
        gender="female",
        options=(("Size", SIZES),),
        images=(("polka-dot-midi-dress-1.jpg", "Polka Dot Midi Dress in navy, front view"),),
    ),
    Product(
        handle="pleated-midi-skirt",
        title="Pleated Midi Skirt",
        product_type="Skirts",
        tags="women, skirts, pleated, midi, satin",
        description="<p>Knife-pleated satin midi skirt on a flat waistband with a concealed "
        "side zip.</p>",
        price="59.00",
        grams=280,
        gender="female",
        options=(("Size", SIZES),),
        images=(("pleated-midi-skirt-1.png", "Pleated Midi Skirt in sage green"),),
    ),
    Product(
        handle="coastline-hoodie",
        title="Coastline Surf Club Hoodie",
        product_type="Hoodies",
        tags="unisex, hoodies, fleece, graphic, sweatshirts",
        description="<p>Brushed-back fleece pullover hoodie with a kangaroo pocket, ribbed "
        "cuffs and a printed chest graphic.</p>",
        price="65.00",
        grams=520,
        gender="unisex",
        options=(("Color", ("Heather Grey", "Forest Green")), ("Size", SIZES)),
        images=(
            ("coastline-hoodie-1.jpg", "Coastline Surf Club Hoodie in heather grey"),
            ("coastline-hoodie-2.jpg", "Coastline Surf Club Hoodie in forest green"),
        ),
        variant_images={
            "Heather Grey": "coastline-hoodie-1.jpg",
            "Forest Green": "coastline-hoodie-2.jpg",
        },
    ),
    Product(
        handle="straight-leg-jeans",
        title="Straight Leg Jeans",
        product_type="Jeans",
        tags="women, jeans, denim, straight leg, five pocket",
        description="<p>Mid-rise five-pocket jeans in 12 oz rigid denim with a straight leg "
        "and copper rivets.</p>",
        price="89.00",
        grams=650,
        gender="female",
        options=(("Size", ("28", "30", "32")),),
        images=(("straight-leg-jeans-1.jpg", "Straight Leg Jeans in mid-blue wash, front view"),),
    ),
    Product(
        handle="olive-bomber-jacket",
        title="Olive Bomber Jacket",
        product_type="Jackets",
        tags="men, jackets, outerwear, bomber, nylon",
        description="<p>Nylon bomber jacket with ribbed collar, cuffs and hem, a centre-front "
        "zip and a utility sleeve pocket.</p>",
        price="120.00",
        grams=780,
        gender="male",
        options=(("Size", SIZES),),
        images=(("olive-bomber-jacket-1.jpg", "Olive Bomber Jacket, front view"),),
    ),
    Product(
        handle="market-canvas-tote",
        title="Market Canvas Tote",
        product_type="Bags",
        tags="bags, tote, canvas, accessories",
        description="<p>Heavy cotton canvas tote with reinforced handles and a printed front.</p>",
        price="32.00",
        grams=300,
        gender="unisex",
        options=(("Title", ("Default Title",)),),
        images=(("market-canvas-tote-1.jpg", "Market Canvas Tote in natural canvas"),),
    ),
    Product(
        handle="court-sneakers",
        title="Court Leather Sneakers",
        product_type="Shoes",
        tags="shoes, sneakers, leather, unisex",
        description="<p>Low-top leather court sneakers with a stitched cupsole and a gum "
        "rubber outsole.</p>",
        price="95.00",
        grams=900,
        gender="unisex",
        options=(("Size", ("40", "41", "42", "43")),),
        images=(("court-sneakers-1.jpg", "Court Leather Sneakers in white and green, side view"),),
    ),
)


def image_seed(name: str) -> int:
    """Return the drawing seed for one image, fixed by SEED and the file name."""
    return SEED ^ zlib.crc32(name.encode("utf-8"))


def render_image(name: str) -> Image.Image:
    """Draw one generated catalog image and return it (RGB, or RGBA for a cut-out PNG).

    Raises:
        KeyError: `name` is not one of the generated images in `IMAGES`.
    """
    try:
        spec = IMAGES[name]
    except KeyError:
        raise KeyError(
            f"{name!r} is not a generated sample image; expected one of {sorted(IMAGES)}"
        ) from None
    sketch = Sketch(spec.width, spec.height, image_seed(name))
    spec.draw(sketch)
    return studio_photo(sketch.garment(), spec.background)


def encode_image(image: Image.Image, name: str) -> bytes:
    """Encode a rendered image the way the catalog stores it: JPEG quality 90 or PNG."""
    buffer = io.BytesIO()
    if name.endswith(".png"):
        image.save(buffer, "PNG", optimize=True)
    else:
        # 4:4:4 chroma keeps one-pixel stripe and type edges free of colour bleeding.
        image.save(buffer, "JPEG", quality=JPEG_QUALITY, subsampling=0, optimize=True)
    return buffer.getvalue()


def variant_rows(product: Product) -> list[dict[str, str]]:
    """Return one CSV row per variant: every combination of the product's option values."""
    combinations: list[tuple[str, ...]] = [()]
    for _name, values in product.options:
        combinations = [combo + (value,) for combo in combinations for value in values]

    rows = []
    for combo in combinations:
        row = dict.fromkeys(COLUMNS, "")
        row["Handle"] = product.handle
        for index, value in enumerate(combo, start=1):
            row[f"Option{index} Value"] = value
        code = "-".join(value.split()[0][:3].upper() for value in combo if value != "Default Title")
        row["Variant SKU"] = f"WV-{product.handle.upper()}" + (f"-{code}" if code else "")
        row["Variant Grams"] = str(product.grams)
        row["Variant Inventory Tracker"] = "shopify"
        row["Variant Inventory Qty"] = "12"
        row["Variant Inventory Policy"] = "deny"
        row["Variant Fulfillment Service"] = "manual"
        row["Variant Price"] = product.price
        row["Variant Requires Shipping"] = "true"
        row["Variant Taxable"] = "true"
        row["Variant Image"] = product.variant_images.get(combo[0], "")
        row["Variant Weight Unit"] = "kg"
        rows.append(row)
    return rows


def product_rows(product: Product) -> list[dict[str, str]]:
    """Return a product's CSV rows: variants first, then one row per further image.

    The first row also carries the product fields and the first image, as in Shopify's
    import format. Each further image gets a row with only the handle and image columns.
    """
    rows = variant_rows(product)
    first = rows[0]
    first.update(
        {
            "Title": product.title,
            "Body (HTML)": product.description,
            "Vendor": VENDOR,
            "Type": product.product_type,
            "Tags": product.tags,
            "Published": "true",
            "Gift Card": "false",
            "Google Shopping / Gender": product.gender,
            "Google Shopping / Age Group": "adult",
            "Google Shopping / Condition": "new",
        }
    )
    for index, (name, _values) in enumerate(product.options, start=1):
        first[f"Option{index} Name"] = name

    for position, (file_name, alt_text) in enumerate(product.images, start=1):
        if position == 1:
            row = first
        else:
            row = dict.fromkeys(COLUMNS, "")
            row["Handle"] = product.handle
            rows.append(row)
        row["Image Src"] = file_name
        row["Image Position"] = str(position)
        row["Image Alt Text"] = alt_text
    return rows


def write_catalog_csv(path: Path, products: Sequence[Product] = PRODUCTS) -> int:
    """Write the products as a Shopify product CSV and return the number of rows written."""
    rows = [row for product in products for row in product_rows(product)]
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return len(rows)


def copy_on_model_photo(images_dir: Path) -> Path:
    """Make sure the on-model photo is in `images_dir`, with the expected checksum.

    Raises:
        FileNotFoundError: the photo is missing from samples/images.
        ValueError: the photo's bytes differ from the recorded original.
    """
    source = SAMPLES_DIR / "images" / ON_MODEL_PHOTO
    target = images_dir / ON_MODEL_PHOTO
    if not source.is_file():
        raise FileNotFoundError(
            f"on-model photo {source} is missing; restore it from version control "
            "(it is a photograph and cannot be regenerated)"
        )
    if source.resolve() != target.resolve():
        shutil.copyfile(source, target)
    digest = hashlib.sha256(target.read_bytes()).hexdigest()
    if digest != ON_MODEL_PHOTO_SHA256:
        raise ValueError(
            f"on-model photo {target} has sha256 {digest}, expected {ON_MODEL_PHOTO_SHA256}; "
            "restore the original file from version control"
        )
    return target


@dataclass
class CatalogSummary:
    """Counts, total image bytes and render time of one `build_catalog` run."""

    products: int
    rows: int
    images: int
    image_bytes: int
    seconds: float


def build_catalog(out_dir: Path = SAMPLES_DIR) -> CatalogSummary:
    """Render every generated image into `out_dir/images` and write `out_dir/catalog.csv`."""
    started = time.perf_counter()
    images_dir = out_dir / "images"
    images_dir.mkdir(parents=True, exist_ok=True)

    total_bytes = 0
    for name in IMAGES:
        image_started = time.perf_counter()
        data = encode_image(render_image(name), name)
        (images_dir / name).write_bytes(data)
        total_bytes += len(data)
        logger.info(
            "Rendered %s (%d bytes) in %.2f s", name, len(data), time.perf_counter() - image_started
        )
    total_bytes += copy_on_model_photo(images_dir).stat().st_size

    rows = write_catalog_csv(out_dir / "catalog.csv")
    summary = CatalogSummary(
        products=len(PRODUCTS),
        rows=rows,
        images=len(IMAGES) + 1,
        image_bytes=total_bytes,
        seconds=time.perf_counter() - started,
    )
    logger.info(
        "Wrote %d products, %d CSV rows and %d images (%d bytes) to %s in %.1f s",
        summary.products, summary.rows, summary.images, summary.image_bytes, out_dir,
        summary.seconds,
    )  # fmt: skip
    return summary


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out",
        type=Path,
        default=SAMPLES_DIR,
        help="folder that receives catalog.csv and images/ (default: the samples folder)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    build_catalog(args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

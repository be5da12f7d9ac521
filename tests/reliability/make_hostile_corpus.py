"""Write the reliability suite's corpus of bad and hostile inputs, made from code.

    python -m tests.reliability.make_hostile_corpus DIR

Four kinds of input, each listed with what the app must do with it:

- images (the image loader's corpus plus more): the error code `load_image` must raise, or
  None when the image must load;
- product CSVs for the dev store's seeding: "error" when seeding must reject the file with
  a message naming it, or the number of products it must seed;
- webhook bodies: the HTTP status the webhook endpoint must return;
- GraphQL product nodes with unexpected nulls: None when the sync must store the product, or
  "skip" when it must skip that product with a logged reason.
"""

from __future__ import annotations

import io
import json
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from tests.imaging.make_corpus import CASES as LOADER_CASES
from tests.imaging.make_corpus import build_corpus, gradient

IMAGE_CASES: dict[str, str | None] = {
    **LOADER_CASES,
    "one_pixel.png": None,
    "one_pixel.jpg": None,
    "html_named.jpg": "not_an_image",
    "svg_with_script.svg": "svg_refused",
    "svg_with_script_named.png": "svg_refused",
    "deflate_bomb_12000x12000.png": "too_many_pixels",
    "header_20000x20000.jpg": "too_many_pixels",
    "webp_lossy.webp": None,
    "avif.avif": None,
    "heic_header.heic": "not_an_image",
    "zero_bytes.png": "empty_file",
    "truncated.png": "truncated",
    "cmyk_exif_rotated.jpg": None,
    "rgb16.png": None,
}

CSV_HEADER = "Handle,Title,Vendor,Type,Tags,Option1 Name,Option1 Value,Variant SKU,Variant Price\n"
CSV_CASES: dict[str, int | str] = {
    "good.csv": 2,
    "broken_quoting.csv": 2,
    "huge_field.csv": "error",
    "unknown_columns.csv": 2,
    "latin1_text.csv": "error",
    "no_title_column.csv": "error",
    "empty.csv": "error",
}

WEBHOOK_CASES: dict[str, int] = {
    "not_json.txt": 400,
    "json_array.json": 400,
    "json_string.json": 400,
    "invalid_utf8.json": 400,
    "ten_megabytes.json": 413,
    "deeply_nested.json": 400,
    "nan_number.json": 200,
    "empty_body.json": 400,
}

GRAPHQL_CASES: dict[str, str | None] = {
    "null_title": None,
    "null_variants": None,
    "null_media": None,
    "null_variant_media": None,
    "null_selected_options": None,
    "null_image_of_media": None,
    "null_nodes": None,
    "null_id": "skip",
    "null_node": "skip",
}


def _encode(image: Image.Image, file_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **options)
    return buffer.getvalue()


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)


def deflate_bomb(side: int) -> bytes:
    """A valid PNG of `side` x `side` black pixels whose compressed data is tiny."""
    row = b"\x00" + b"\x00" * side
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


def jpeg_header_only(width: int, height: int) -> bytes:
    """A JPEG start whose frame header claims `width` x `height` and that ends right after."""
    soi = b"\xff\xd8"
    sof = b"\xff\xc0" + struct.pack(">HBHHB", 17, 8, height, width, 3)
    sof += b"\x01\x11\x00\x02\x11\x00\x03\x11\x00"
    return soi + sof + b"\xff\xd9"


def build_images() -> dict[str, bytes]:
    files = dict(build_corpus())
    rgb = Image.fromarray(gradient())
    files["one_pixel.png"] = _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "PNG")
    files["one_pixel.jpg"] = _encode(Image.new("RGB", (1, 1), (200, 10, 10)), "JPEG")
    files["html_named.jpg"] = (
        b"<html><body><script>alert(document.cookie)</script><img src=x></body></html>"
    )
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10" onload="alert(1)">'
        b"<script>fetch('/admin/')</script><rect width='10' height='10'/></svg>"
    )
    files["svg_with_script.svg"] = svg
    files["svg_with_script_named.png"] = svg
    files["deflate_bomb_12000x12000.png"] = deflate_bomb(12_000)
    files["header_20000x20000.jpg"] = jpeg_header_only(20_000, 20_000)
    files["webp_lossy.webp"] = _encode(rgb, "WEBP", quality=80)
    files["avif.avif"] = _encode(rgb, "AVIF", quality=70)
    # The ISO-BMFF box of a HEIC file with no image data behind it; Pillow has no HEIC decoder.
    files["heic_header.heic"] = struct.pack(">I", 24) + b"ftypheic" + b"\x00\x00\x00\x00heicmif1"
    files["zero_bytes.png"] = b""
    png = _encode(rgb, "PNG")
    files["truncated.png"] = png[: len(png) // 2]
    stored = rgb.transpose(Image.Transpose.ROTATE_90).convert("CMYK")
    exif = Image.Exif()
    exif[0x0112] = 6
    files["cmyk_exif_rotated.jpg"] = _encode(stored, "JPEG", quality=90, exif=exif.tobytes())
    rgb16 = (np.asarray(rgb).astype(np.uint16) * 257).astype(">u2")
    files["rgb16.png"] = _rgb16_png(rgb16)
    missing = set(IMAGE_CASES) ^ set(files)
    if missing:
        raise RuntimeError(f"image corpus and IMAGE_CASES disagree on {sorted(missing)}")
    return files


def _rgb16_png(pixels: np.ndarray) -> bytes:
    """Encode a 16-bit-per-channel RGB PNG (Pillow writes only 8-bit RGB)."""
    height, width, _ = pixels.shape
    raw = b"".join(b"\x00" + pixels[y].tobytes() for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 16, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", zlib.compress(raw))
        + _png_chunk(b"IEND", b"")
    )


def build_csvs() -> dict[str, bytes]:
    good = CSV_HEADER + (
        "linen-shirt,Linen shirt,WearView,Shirts,linen,Size,M,LS-M,49.00\n"
        "wool-coat,Wool coat,WearView,Coats,wool,Size,L,WC-L,149.00\n"
    )
    files = {"good.csv": good.encode()}
    files["broken_quoting.csv"] = (
        CSV_HEADER
        + "plain-tee,Plain tee,WearView,T-Shirts,cotton,Size,S,PT-S,19.00\n"
        + 'broken-quote,"Broken "quoted" title,WearView,Shirts,x,Size,M,BQ-M,29.00\n'
    ).encode()
    files["huge_field.csv"] = (
        CSV_HEADER + "huge,Huge," + "x" * 300_000 + ",Shirts,x,Size,M,H-M,9.00\n"
    ).encode()
    files["unknown_columns.csv"] = (
        b"Handle,Title,Mystery Column,Another One\n"
        b"mystery-one,Mystery one,?,!\n"
        b"mystery-two,Mystery two,?,!\n"
    )
    files["latin1_text.csv"] = (
        CSV_HEADER + "cafe-shirt,Chemise café crème,Maison,Shirts,x,Size,M,CC-M,39.00\n"
    ).encode("latin-1")
    files["no_title_column.csv"] = b"Handle,Vendor\nno-title,WearView\n"
    files["empty.csv"] = b""
    return files


def build_webhook_bodies() -> dict[str, bytes]:
    product = {"id": 1, "title": "Shirt", "updated_at": "2026-12-01T10:00:00Z"}
    return {
        "not_json.txt": b"this is not json at all",
        "json_array.json": json.dumps([product]).encode(),
        "json_string.json": b'"a string"',
        "invalid_utf8.json": b'{"title": "\xff\xfe broken"}',
        "ten_megabytes.json": json.dumps(
            {**product, "body_html": "x" * (10 * 1024 * 1024)}
        ).encode(),
        "deeply_nested.json": b'{"a":' + b"[" * 200_000 + b"]" * 200_000 + b"}",
        "nan_number.json": b'{"id": 1, "title": "Shirt", "price": NaN}',
        "empty_body.json": b"",
    }


def graphql_node(number: int, case: str | None = None) -> dict | None:
    """A product node as products_page.graphql returns it, broken the way `case` names."""
    media_id = f"gid://shopify/MediaImage/{number}01"
    node = {
        "id": f"gid://shopify/Product/{number}",
        "handle": f"product-{number}",
        "title": f"Product {number}",
        "descriptionHtml": "",
        "vendor": "WearView",
        "productType": "Shirts",
        "tags": ["x"],
        "status": "ACTIVE",
        "updatedAt": "2026-12-01T10:00:00Z",
        "variants": {
            "nodes": [
                {
                    "id": f"gid://shopify/ProductVariant/{number}01",
                    "sku": f"SKU-{number}",
                    "title": "M",
                    "position": 1,
                    "availableForSale": True,
                    "selectedOptions": [{"name": "Size", "value": "M"}],
                    "media": {"nodes": [{"id": media_id}]},
                }
            ],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        },
        "media": {
            "nodes": [
                {
                    "id": media_id,
                    "alt": "",
                    "status": "READY",
                    "image": {
                        "url": f"https://cdn.example.test/{number}.jpg",
                        "width": 10,
                        "height": 10,
                    },
                }
            ],
            "pageInfo": {"hasNextPage": False, "endCursor": None},
        },
    }
    if case == "null_title":
        node["title"] = None
    elif case == "null_variants":
        node["variants"] = None
    elif case == "null_media":
        node["media"] = None
    elif case == "null_variant_media":
        node["variants"]["nodes"][0]["media"] = None
    elif case == "null_selected_options":
        node["variants"]["nodes"][0]["selectedOptions"] = None
    elif case == "null_image_of_media":
        node["media"]["nodes"][0]["image"] = None
    elif case == "null_nodes":
        node["variants"]["nodes"] = None
        node["media"]["nodes"] = None
    elif case == "null_id":
        node["id"] = None
    elif case == "null_node":
        return None
    return node


def write_corpus(directory: str | Path) -> dict[str, dict[str, Path]]:
    """Write every input under `directory`/{images,csv,webhooks}; return paths by kind."""
    folder = Path(directory)
    written: dict[str, dict[str, Path]] = {}
    for kind, files in (
        ("images", build_images()),
        ("csv", build_csvs()),
        ("webhooks", build_webhook_bodies()),
    ):
        target = folder / kind
        target.mkdir(parents=True, exist_ok=True)
        written[kind] = {}
        for name, data in files.items():
            (target / name).write_bytes(data)
            written[kind][name] = target / name
    nodes = {case: graphql_node(900 + index, case) for index, case in enumerate(GRAPHQL_CASES)}
    (folder / "graphql").mkdir(parents=True, exist_ok=True)
    path = folder / "graphql" / "product_nodes.json"
    path.write_text(json.dumps(nodes, indent=1))
    written["graphql"] = {"product_nodes.json": path}
    return written


def corpus_size() -> int:
    return len(IMAGE_CASES) + len(CSV_CASES) + len(WEBHOOK_CASES) + len(GRAPHQL_CASES)


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.reliability.make_hostile_corpus DIR")
    for kind, paths in write_corpus(sys.argv[1]).items():
        for path in paths.values():
            print(kind, path)

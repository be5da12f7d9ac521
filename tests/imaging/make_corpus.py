"""Write the image loader's fixture corpus: awkward and broken inputs, made from code.

    python -m tests.imaging.make_corpus DIR

Each file is listed in `CASES` with the error code `load_image` must raise for it, or
None when it must load. The tests call `write_corpus` into a temporary folder.
"""

from __future__ import annotations

import io
import struct
import sys
import zlib
from pathlib import Path

import numpy as np
from PIL import Image, ImageCms

# File name -> expected error code, or None for files that must load.
CASES: dict[str, str | None] = {
    "empty.jpg": "empty_file",
    "truncated.jpg": "truncated",
    "error_page.jpg": "not_an_image",
    "random_bytes.png": "not_an_image",
    "vector.svg": "svg_refused",
    "vector_with_xml_header.png": "svg_refused",
    "bomb_20000x20000.png": "too_many_pixels",
    "animated.gif": None,
    "cmyk.jpg": None,
    "gray16.png": None,
    "palette_transparent.png": None,
    "gray_alpha.png": None,
    "rgba.png": None,
    "rgba_opaque.png": None,
    "grayscale.jpg": None,
    "srgb_icc.jpg": None,
    "exif_rotated_6.jpg": None,
    "bilevel.png": None,
    "webp_lossless.webp": None,
}


def gradient(width: int = 120, height: int = 80) -> np.ndarray:
    """Return an RGB test card: red rises left to right, green top to bottom, blue fixed."""
    xs = np.linspace(0, 255, width, dtype=np.float32)[None, :]
    ys = np.linspace(0, 255, height, dtype=np.float32)[:, None]
    rgb = np.zeros((height, width, 3), np.uint8)
    rgb[:, :, 0] = np.broadcast_to(xs, (height, width)).astype(np.uint8)
    rgb[:, :, 1] = np.broadcast_to(ys, (height, width)).astype(np.uint8)
    rgb[:, :, 2] = 90
    return rgb


def png_header_only(width: int, height: int) -> bytes:
    """Return a PNG whose header claims `width` x `height` but carries almost no data."""

    def chunk(kind: bytes, payload: bytes) -> bytes:
        crc = zlib.crc32(kind + payload) & 0xFFFFFFFF
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    data = zlib.compress(b"\x00" * 64)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", data) + chunk(b"IEND", b"")
    )


def _encode(image: Image.Image, file_format: str, **options: object) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, file_format, **options)
    return buffer.getvalue()


def build_corpus() -> dict[str, bytes]:
    """Return every corpus file as bytes, keyed by file name."""
    rgb = Image.fromarray(gradient())
    files: dict[str, bytes] = {}

    files["empty.jpg"] = b""
    jpeg = _encode(rgb, "JPEG", quality=90)
    files["truncated.jpg"] = jpeg[: len(jpeg) // 2]
    files["error_page.jpg"] = (
        b"<!DOCTYPE html><html><head><title>404 Not Found</title></head>"
        b"<body><h1>Not Found</h1></body></html>"
    )
    files["random_bytes.png"] = np.random.default_rng(7).bytes(2048)
    svg = (
        b'<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
        b'<rect width="10" height="10" fill="red"/></svg>'
    )
    files["vector.svg"] = svg
    files["vector_with_xml_header.png"] = b'<?xml version="1.0" encoding="UTF-8"?>\n' + svg
    files["bomb_20000x20000.png"] = png_header_only(20_000, 20_000)

    frames = [Image.fromarray(np.full((40, 40, 3), value, np.uint8)) for value in (30, 120, 220)]
    files["animated.gif"] = _encode(
        frames[0], "GIF", save_all=True, append_images=frames[1:], duration=100, loop=0
    )

    files["cmyk.jpg"] = _encode(rgb.convert("CMYK"), "JPEG", quality=95)

    gray16 = (np.linspace(0, 65535, 64 * 48, dtype=np.float64).reshape(48, 64)).astype(np.uint16)
    files["gray16.png"] = _encode(Image.fromarray(gray16), "PNG")

    palette = Image.fromarray(gradient()).convert("P", palette=Image.Palette.ADAPTIVE, colors=16)
    palette.info["transparency"] = 0
    files["palette_transparent.png"] = _encode(palette, "PNG", transparency=0)

    alpha = np.zeros((80, 120), np.uint8)
    alpha[20:60, 30:90] = 255
    gray = Image.fromarray(np.array(rgb.convert("L")), "L")
    files["gray_alpha.png"] = _encode(Image.merge("LA", (gray, Image.fromarray(alpha, "L"))), "PNG")
    rgba = rgb.copy()
    rgba.putalpha(Image.fromarray(alpha, "L"))
    files["rgba.png"] = _encode(rgba, "PNG")
    opaque = rgb.copy()
    opaque.putalpha(255)
    files["rgba_opaque.png"] = _encode(opaque, "PNG")

    files["grayscale.jpg"] = _encode(rgb.convert("L"), "JPEG", quality=90)
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    files["srgb_icc.jpg"] = _encode(rgb, "JPEG", quality=90, icc_profile=srgb)

    # Stored pixels are the upright image turned 90 degrees clockwise, so only applying
    # orientation 6 restores the 120 x 80 test card.
    stored = rgb.transpose(Image.Transpose.ROTATE_90)
    exif = Image.Exif()
    exif[0x0112] = 6
    files["exif_rotated_6.jpg"] = _encode(stored, "JPEG", quality=95, exif=exif.tobytes())

    files["bilevel.png"] = _encode(rgb.convert("1"), "PNG")
    files["webp_lossless.webp"] = _encode(rgb, "WEBP", lossless=True)
    missing = set(CASES) ^ set(files)
    if missing:
        raise RuntimeError(f"corpus and CASES disagree on {sorted(missing)}")
    return files


def write_corpus(directory: str | Path) -> dict[str, Path]:
    """Write the corpus into `directory` and return each file's path by name."""
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    paths = {}
    for name, data in build_corpus().items():
        path = folder / name
        path.write_bytes(data)
        paths[name] = path
    return paths


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: python -m tests.imaging.make_corpus DIR")
    for path in write_corpus(sys.argv[1]).values():
        print(path)

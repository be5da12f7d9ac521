"""Image checks that mirror what Shopify accepts as product media."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, UnidentifiedImageError

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_PIXELS = 20_000_000
MAX_SIDE = 4472
# Formats Shopify accepts for images that Pillow can decode without extra plugins.
ACCEPTED_FORMATS = {
    "JPEG": "image/jpeg",
    "PNG": "image/png",
    "GIF": "image/gif",
    "WEBP": "image/webp",
}


@dataclass(frozen=True)
class ImageInfo:
    width: int
    height: int
    mime_type: str


@dataclass(frozen=True)
class MediaProblem:
    """A media error as Shopify reports it in `mediaErrors`."""

    code: str
    message: str
    details: str | None = None

    def as_graphql(self) -> dict:
        return {"code": self.code, "message": self.message, "details": self.details}


def inspect_image(content: bytes) -> ImageInfo | MediaProblem:
    """Check an uploaded image the way Shopify's media pipeline does.

    Returns the image's size and MIME type, or the `MediaErrorCode` Shopify gives when it
    rejects the file: over 20 MB, over 20 megapixels or 4472 pixels a side, a format it does
    not take, or bytes that do not decode.
    """
    if len(content) > MAX_FILE_BYTES:
        return MediaProblem(
            "INVALID_IMAGE_FILE_SIZE",
            "Image file size is too large. Maximum file size is 20 MB.",
            f"{len(content)} bytes",
        )
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(content))
            image_format = image.format or ""
            width, height = image.size
    except Image.DecompressionBombError:
        return MediaProblem(
            "INVALID_IMAGE_RESOLUTION",
            "Image resolution is too large. Maximum is 20 megapixels and 4472 pixels a side.",
        )
    except (UnidentifiedImageError, OSError):
        return MediaProblem(
            "UNSUPPORTED_IMAGE_FILE_TYPE",
            "Image format is not supported. Upload a JPEG, PNG, GIF or WEBP image.",
        )
    if image_format not in ACCEPTED_FORMATS:
        return MediaProblem(
            "UNSUPPORTED_IMAGE_FILE_TYPE",
            f"Image format {image_format} is not supported. Upload a JPEG, PNG, GIF or WEBP image.",
        )
    if width > MAX_SIDE or height > MAX_SIDE or width * height > MAX_PIXELS:
        return MediaProblem(
            "INVALID_IMAGE_RESOLUTION",
            "Image resolution is too large. Maximum is 20 megapixels and 4472 pixels a side.",
            f"{width}x{height}",
        )
    # Decoding the whole file catches truncated and corrupt data that the header hides.
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            Image.open(io.BytesIO(content)).load()
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return MediaProblem(
            "IMAGE_PROCESSING_FAILURE",
            "Image could not be processed because the file is corrupt.",
        )
    return ImageInfo(width=width, height=height, mime_type=ACCEPTED_FORMATS[image_format])

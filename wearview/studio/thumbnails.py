"""Review thumbnails: the source photo and the garment mask overlay, made once and kept in storage.

Candidate thumbnails are written when the GPU worker's results are recorded. The source and
mask overlay thumbnails are made on their first request and stored next to their inputs, so a
changelist page only renders URLs and never decodes an image.
"""

import io
import logging
import mimetypes
import os
import tempfile
from pathlib import Path

import numpy as np
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.http import FileResponse, HttpResponse, HttpResponseRedirect
from PIL import Image

from wearview.studio.models import Candidate, GenerationJob

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256
# Garment pixels are tinted with this colour so the mask's fit to the garment is visible.
OVERLAY_RGB = (255, 0, 110)
OVERLAY_ALPHA = 0.45

KIND_SOURCE = "source"
KIND_OVERLAY = "overlay"
KIND_CANDIDATE = "candidate"
KIND_CANDIDATE_FULL = "candidate-full"
KIND_SOURCE_FULL = "source-full"
KINDS = (KIND_SOURCE, KIND_OVERLAY, KIND_CANDIDATE, KIND_CANDIDATE_FULL, KIND_SOURCE_FULL)


class ThumbnailUnavailable(Exception):
    """The image a thumbnail is made from does not exist (yet)."""


def _jpeg(image: Image.Image) -> bytes:
    image = image.convert("RGB")
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.save(buffer, format="JPEG", quality=85)
    return buffer.getvalue()


def _open(key: str) -> Image.Image:
    with default_storage.open(key, "rb") as handle:
        image = Image.open(handle)
        image.load()
    return image


def _store_once(key: str, make) -> str:
    if default_storage.exists(key):
        return key
    data = make()
    try:
        path = Path(default_storage.path(key))
    except NotImplementedError:
        # Object stores (S3) make an object visible only once it is complete.
        saved = default_storage.save(key, ContentFile(data))
    else:
        # Two first requests may race, and a reader must never see a half-written file, so
        # the file is written beside its name and renamed into place in one step.
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=path.parent, delete=False) as handle:
            handle.write(data)
        os.chmod(handle.name, 0o644)
        os.replace(handle.name, path)
        saved = key
    logger.info("Thumbnail %s stored (%s bytes)", saved, len(data))
    return saved


def overlay_image(canvas: Image.Image, mask: Image.Image) -> Image.Image:
    """Return the canvas with the garment mask tinted over it."""
    rgb = np.asarray(canvas.convert("RGB"), dtype=np.float32)
    if mask.size != canvas.size:
        mask = mask.resize(canvas.size, Image.Resampling.NEAREST)
    weight = (np.asarray(mask.convert("L"), dtype=np.float32) / 255.0)[..., None] * OVERLAY_ALPHA
    tint = np.array(OVERLAY_RGB, dtype=np.float32)
    blended = rgb * (1.0 - weight) + tint * weight
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))


def source_thumbnail_key(job: GenerationJob) -> str:
    """Return the storage key of the job's source photo thumbnail, making it on first use.

    Raises:
        ThumbnailUnavailable: the job has no stored source photo.
    """
    source = job.source_image
    if source is None or not source.stored:
        raise ThumbnailUnavailable(f"Job {job.pk} has no stored source photo.")
    base = source.stored.name.rsplit(".", 1)[0]
    return _store_once(f"{base}.thumb.jpg", lambda: _jpeg(_open(source.stored.name)))


def overlay_thumbnail_key(job: GenerationJob) -> str:
    """Return the storage key of the mask overlay thumbnail, making it on first use.

    Raises:
        ThumbnailUnavailable: the job has not been prepared, so it has no mask yet.
    """
    prepared = job.prepared or {}
    canvas_key, mask_key = prepared.get("source_key"), prepared.get("mask_key")
    if not canvas_key or not mask_key:
        raise ThumbnailUnavailable(f"Job {job.pk} has no prepared canvas and mask yet.")
    base = mask_key.rsplit(".", 1)[0]
    return _store_once(
        f"{base}.overlay.thumb.jpg",
        lambda: _jpeg(overlay_image(_open(canvas_key), _open(mask_key))),
    )


def image_key(*, kind: str, candidate: Candidate) -> str:
    """Return the storage key of one image shown in review for `candidate`.

    Raises:
        ValueError: `kind` is not one of KINDS.
        ThumbnailUnavailable: the image it is made from is missing.
    """
    job = candidate.job
    if kind == KIND_CANDIDATE:
        return candidate.thumbnail.name or candidate.image.name
    if kind == KIND_CANDIDATE_FULL:
        return candidate.image.name
    if kind == KIND_SOURCE:
        return source_thumbnail_key(job)
    if kind == KIND_SOURCE_FULL:
        if job.source_image is None or not job.source_image.stored:
            raise ThumbnailUnavailable(f"Job {job.pk} has no stored source photo.")
        return job.source_image.stored.name
    if kind == KIND_OVERLAY:
        return overlay_thumbnail_key(job)
    raise ValueError(f"Unknown image kind {kind!r}; use one of {', '.join(KINDS)}.")


def storage_response(key: str) -> HttpResponse:
    """Serve a stored file: a redirect to a remote storage URL, or the bytes themselves."""
    url = default_storage.url(key)
    if url.startswith(("http://", "https://")):
        return HttpResponseRedirect(url)
    content_type = mimetypes.guess_type(key)[0] or "application/octet-stream"
    response = FileResponse(default_storage.open(key, "rb"), content_type=content_type)
    # Source keys carry the content hash and job keys the round, so a key's image stays the same.
    response["Cache-Control"] = "private, max-age=3600"
    return response

"""Fixtures of the review tests: shops with jobs in review, stored images and session tokens."""

import io
import itertools
import time
from dataclasses import dataclass, field

import jwt
import numpy as np
import pytest
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image

from tests.factories import make_image, make_product, make_shop, make_variant
from wearview.studio.models import (
    Candidate,
    GenerationJob,
    JobState,
    JobTransition,
    Publication,
    PublicationStatus,
)
from wearview.studio.services import job_transition

_numbers = itertools.count(1)


def session_token(shop_domain: str, *, secret: str | None = None, ttl: int = 60, **claims) -> str:
    """Sign a session token like App Bridge does for `shop_domain`."""
    now = int(time.time())
    payload = {
        "iss": f"https://{shop_domain}/admin",
        "dest": f"https://{shop_domain}",
        "aud": settings.SHOPIFY_API_KEY,
        "sub": "42",
        "exp": now + ttl,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": f"jti-{next(_numbers)}",
        "sid": "session-1",
        **claims,
    }
    return jwt.encode(payload, secret or settings.SHOPIFY_API_SECRET, algorithm="HS256")


def png_bytes(width: int, height: int, colour: tuple[int, int, int], *, square: bool = True):
    """A photo-like test image: a flat background with a garment-coloured block."""
    pixels = np.full((height, width, 3), 235, dtype=np.uint8)
    if square:
        pixels[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = colour
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def mask_bytes(width: int, height: int) -> bytes:
    mask = np.zeros((height, width), dtype=np.uint8)
    mask[height // 4 : 3 * height // 4, width // 4 : 3 * width // 4] = 255
    buffer = io.BytesIO()
    Image.fromarray(mask).save(buffer, format="PNG")
    return buffer.getvalue()


def _save(key: str, data: bytes) -> str:
    return default_storage.save(key, ContentFile(data))


@dataclass
class ReviewJob:
    job: GenerationJob
    candidates: list[Candidate] = field(default_factory=list)


def job_in_review(
    shop,
    *,
    title: str | None = None,
    candidates: int = 2,
    with_files: bool = True,
    category: str = "top",
    scores: tuple[float, ...] = (0.93, 0.61),
) -> ReviewJob:
    """Build a product with a source photo and a job in review with `candidates` candidates."""
    product = make_product(shop, title=title, product_type="T-Shirt")
    variant = make_variant(product, selected_options=[{"name": "Color", "value": "Red"}])
    image = make_image(product)
    number = next(_numbers)
    if with_files:
        image.stored = _save(f"test-review/src-{number}.png", png_bytes(80, 100, (200, 30, 30)))
        image.content_hash = f"{number:064d}"
        image.save(update_fields=["stored", "content_hash"])
    job = GenerationJob.objects.create(
        shop=shop,
        product=product,
        source_image=image,
        preset="restyle",
        prompt="photo of a model",
        parameters={"seeds": [11, 23], "steps": 20, "guidance_scale": 6.0},
    )
    job.variants.set([variant])
    JobTransition.objects.create(job=job, from_state="", to_state=JobState.QUEUED, actor="test")

    prepared = {"category": category}
    if with_files:
        prepared["source_key"] = _save(
            f"test-review/jobs/{job.pk}/canvas.png", png_bytes(64, 80, (200, 30, 30))
        )
        prepared["mask_key"] = _save(f"test-review/jobs/{job.pk}/mask.png", mask_bytes(64, 80))
    GenerationJob.objects.filter(pk=job.pk).update(prepared=prepared)
    for state in (JobState.PREPARING, JobState.GENERATING, JobState.IN_REVIEW):
        job_transition(job_id=job.pk, to_state=state, actor="test")

    made = []
    for rank in range(candidates):
        key = f"test-review/jobs/{job.pk}/cand-{rank}.png"
        thumb = f"test-review/jobs/{job.pk}/cand-{rank}.thumb.jpg"
        if with_files:
            key = _save(key, png_bytes(64, 80, (30, 30, 200)))
            buffer = io.BytesIO()
            Image.new("RGB", (32, 40), (30, 30, 200)).save(buffer, format="JPEG")
            thumb = _save(thumb, buffer.getvalue())
        score = scores[rank % len(scores)]
        made.append(
            Candidate.objects.create(
                job=job,
                round=1,
                image=key,
                thumbnail=thumb,
                seed=11 + rank,
                garment_strength=0.06,
                background_strength=0.5,
                scores={"ssim": score, "delta_e": 2.0},
                score=score,
                passed=score >= 0.8,
                failure_reason="" if score >= 0.8 else "garment colour changed (delta E 6.1)",
                rank=rank,
            )
        )
    job.refresh_from_db()
    return ReviewJob(job=job, candidates=made)


def published_job(shop):
    """Build a job in review and move it on to published with a READY publication."""
    built = job_in_review(shop)
    job = built.job
    for state in (JobState.APPROVED, JobState.PUBLISHING, JobState.PUBLISHED):
        job_transition(job_id=job.pk, to_state=state, actor="test")
    candidate = built.candidates[0]
    GenerationJob.objects.filter(pk=job.pk).update(approved_candidate=candidate)
    publication = Publication.objects.create(
        candidate=candidate,
        shop=shop,
        idempotency_key=f"job-{job.pk}-candidate-{candidate.pk}",
        status=PublicationStatus.READY,
        shopify_media_id="gid://shopify/MediaImage/900",
        published_at=timezone.now(),
    )
    return job, publication


@pytest.fixture
def media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    return tmp_path / "media"


@pytest.fixture
def sent_tasks(monkeypatch):
    """Record Celery messages instead of sending them to a broker."""
    from wearview.celery import app
    from wearview.studio import tasks

    sent: list[tuple[str, list]] = []
    monkeypatch.setattr(
        app, "send_task", lambda name, args=None, **kwargs: sent.append((name, list(args or [])))
    )
    monkeypatch.setattr(
        tasks.prepare_job_task,
        "delay",
        lambda *args: sent.append((tasks.prepare_job_task.name, list(args))),
    )
    return sent


@pytest.fixture
def installed_shop(db):
    return make_shop(installed_at=timezone.now())


@pytest.fixture
def other_shop(db):
    return make_shop(installed_at=timezone.now())

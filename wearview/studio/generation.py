"""The generation side of a job: create jobs, prepare their inputs, record the GPU's results.

The GPU worker never touches the database. `job_prepare` writes the canvas, mask and strength
map to storage and returns the request payload. The worker's results come back through the
`record_*` services below, each safe to run twice for the same message.
"""

import io
import logging
from dataclasses import dataclass

import numpy as np
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from PIL import Image

from wearview.catalog.models import Shop
from wearview.catalog.selectors import product_only_images, variants_needing_on_model
from wearview.errors import PermanentError
from wearview.studio.models import Candidate, GenerationJob, JobState
from wearview.studio.prompts import NEGATIVE_PROMPT, build_prompt, visual_option_values
from wearview.studio.services import job_create, job_transition

logger = logging.getLogger(__name__)

THUMBNAIL_SIDE = 256


@dataclass(frozen=True)
class GenerationDefaults:
    seeds: tuple[int, ...]
    strength_levels: str
    steps: int
    guidance_scale: float
    width: int
    height: int


def generation_defaults() -> GenerationDefaults:
    """Read the default sampling parameters from the settings."""
    return GenerationDefaults(
        seeds=tuple(settings.WEARVIEW_DEFAULT_SEEDS),
        strength_levels="auto",
        steps=settings.WEARVIEW_DEFAULT_STEPS,
        guidance_scale=settings.WEARVIEW_DEFAULT_GUIDANCE,
        width=settings.WEARVIEW_CANVAS_WIDTH,
        height=settings.WEARVIEW_CANVAS_HEIGHT,
    )


def _default_parameters() -> dict:
    defaults = generation_defaults()
    return {**defaults.__dict__, "seeds": list(defaults.seeds)}


def jobs_create_for_shop(
    *, shop: Shop, product_ids: list[int] | None = None, requested_by: str = "system"
) -> list[GenerationJob]:
    """Create a job for every live product of `shop` that needs on-model photos.

    The job starts from the product-only photo that shows the most variants needing on-model
    photos, and is linked to exactly those variants, so the published image is attached only
    where it shows the right colour. Variants that photo does not show (another colour) keep
    needing photos; the merchant starts their job from the products page. Products without a
    product-only photo are skipped with a log line. A product that already has an open job
    keeps it; the call returns only the jobs it created.
    """
    needing = variants_needing_on_model(shop=shop).select_related("product")
    if product_ids is not None:
        needing = needing.filter(product_id__in=product_ids)
    variants_by_product: dict[int, list] = {}
    for variant in needing:
        variants_by_product.setdefault(variant.product_id, []).append(variant)

    created = []
    for product_id, variants in sorted(variants_by_product.items()):
        product = variants[0].product
        chosen = _choose_source(product, variants)
        if chosen is None:
            logger.info(
                "Shop %s product %s needs on-model photos but has no product-only photo; "
                "no job created",
                shop.domain,
                product_id,
            )
            continue
        source, shown = chosen
        job, was_created = job_create(
            product=product,
            source_image=source,
            variants=shown,
            preset=shop.strength_preset,
            prompt=build_prompt(
                shop=shop,
                product=product,
                option_values=visual_option_values(shown[0].selected_options),
            ),
            parameters=_default_parameters(),
            requested_by=requested_by,
        )
        if was_created:
            created.append(job)
    return created


def _choose_source(product, variants: list) -> tuple | None:
    """Return the best product-only photo and the needing variants it shows, or None."""
    best = None
    for image in product_only_images(product=product).prefetch_related("variants"):
        linked = {variant.pk for variant in image.variants.all()}
        # A photo linked to no variant is a product-level photo and shows every variant.
        shown = [v for v in variants if not linked or v.pk in linked]
        if shown and (best is None or len(shown) > len(best[1])):
            best = (image, shown)
    return best


def _key(job: GenerationJob, name: str) -> str:
    return f"jobs/{job.pk}/r{job.round}/{name}"


def _save(key: str, data: bytes) -> str:
    if default_storage.exists(key):
        default_storage.delete(key)
    return default_storage.save(key, ContentFile(data))


def _png_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _npy_bytes(array: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, array.astype(np.float32), allow_pickle=False)
    return buffer.getvalue()


def job_prepare(*, job_id: int) -> dict | None:
    """Prepare a queued job's inputs and return the GPU request payload.

    Returns None when the job has moved past preparing already (a redelivered task). A photo
    that cannot be masked or placed fails the job with the reason and returns None.
    """
    from wearview.imaging.category import garment_category
    from wearview.imaging.errors import ImageError
    from wearview.imaging.load import load_image
    from wearview.imaging.mask import garment_mask
    from wearview.imaging.placement import place_garment
    from wearview.imaging.strength import strength_map

    job = GenerationJob.objects.select_related("shop", "product", "source_image").get(pk=job_id)
    if job.state == JobState.QUEUED:
        job = job_transition(
            job_id=job.pk, to_state=JobState.PREPARING, actor="worker", from_states=[job.state]
        )
        job = GenerationJob.objects.select_related("shop", "product", "source_image").get(pk=job_id)
    elif job.state != JobState.PREPARING:
        logger.info(
            "Job %s of shop %s is %s; nothing to prepare", job.pk, job.shop.domain, job.state
        )
        return None

    GenerationJob.objects.filter(pk=job.pk).update(attempts=job.attempts + 1)
    params = {**_default_parameters(), **(job.parameters or {})}
    try:
        if job.source_image is None or not job.source_image.stored:
            raise PermanentError(
                "The job's source photo has no stored copy; sync the product again."
            )
        with job.source_image.stored.open("rb") as handle:
            loaded = load_image(handle.read(), name=job.source_image.stored.name)
        product = job.product
        category = garment_category(
            product_type=product.product_type, title=product.title, tags=product.tags or []
        )
        garment = garment_mask(loaded)
        placement = place_garment(
            loaded.rgb,
            garment.mask,
            category=category,
            width=int(params["width"]),
            height=int(params["height"]),
        )
        strengths = strength_map(placement.mask, preset=job.preset)
    except (ImageError, PermanentError) as exc:
        job_transition(job_id=job.pk, to_state=JobState.FAILED, reason=str(exc), actor="worker")
        return None

    keys = {
        "source_key": _save(_key(job, "canvas.png"), _png_bytes(placement.canvas)),
        "mask_key": _save(_key(job, "mask.png"), _png_bytes(placement.mask)),
        "strength_key": _save(_key(job, "strength.npy"), _npy_bytes(strengths)),
    }
    GenerationJob.objects.filter(pk=job.pk).update(
        prepared={**keys, "category": category}, parameters=params
    )
    job_transition(
        job_id=job.pk,
        to_state=JobState.GENERATING,
        actor="worker",
        from_states=[JobState.PREPARING],
    )
    return {
        "job_id": job.pk,
        "round": job.round,
        "shop_domain": job.shop.domain,
        **keys,
        "prompt": job.prompt,
        "negative_prompt": NEGATIVE_PROMPT,
        "preset": job.preset,
        "params": {
            "seeds": params["seeds"],
            "strength_levels": params["strength_levels"],
            "steps": int(params["steps"]),
            "guidance_scale": float(params["guidance_scale"]),
            "width": int(params["width"]),
            "height": int(params["height"]),
        },
    }


def _thumbnail(key: str) -> str:
    with default_storage.open(key, "rb") as handle:
        image = Image.open(handle)
        image.load()
    image.thumbnail((THUMBNAIL_SIDE, THUMBNAIL_SIDE))
    buffer = io.BytesIO()
    image.convert("RGB").save(buffer, format="JPEG", quality=85)
    base = key.rsplit(".", 1)[0]
    return _save(f"{base}.thumb.jpg", buffer.getvalue())


def job_record_candidates(*, result: dict) -> GenerationJob | None:
    """Store the GPU worker's candidates for a job and move it to review.

    A redelivered result finds its candidates already stored (unique per job, round, seed and
    strengths) and changes nothing. A result for an older round, or for a job that was
    cancelled meanwhile, is logged and dropped.
    """
    job = GenerationJob.objects.select_related("shop").filter(pk=result.get("job_id")).first()
    if job is None:
        logger.warning("Candidates for unknown job %r dropped", result.get("job_id"))
        return None
    if int(result.get("round", 0)) != job.round:
        logger.info(
            "Job %s of shop %s: candidates of round %s dropped, the job is in round %s",
            job.pk,
            job.shop.domain,
            result.get("round"),
            job.round,
        )
        return None
    if job.state not in (JobState.GENERATING, JobState.IN_REVIEW):
        logger.info(
            "Job %s of shop %s is %s; candidates dropped", job.pk, job.shop.domain, job.state
        )
        return None

    stored = 0
    for item in result.get("candidates", []):
        defaults = {
            "image": item["key"],
            "thumbnail": _thumbnail(item["key"]),
            "scores": item.get("scores") or {},
            "score": float(item.get("score") or 0.0),
            "passed": bool(item.get("passed")),
            "failure_reason": item.get("reason") or "",
            "rank": int(item.get("rank") or 0),
        }
        try:
            _, created = Candidate.objects.get_or_create(
                job=job,
                round=job.round,
                seed=int(item["seed"]),
                garment_strength=float(item["garment_strength"]),
                background_strength=float(item["background_strength"]),
                defaults=defaults,
            )
        except IntegrityError:
            created = False
        stored += int(created)

    _job_thumbnails(job)
    if job.state == JobState.GENERATING:
        job = job_transition(
            job_id=job.pk,
            to_state=JobState.IN_REVIEW,
            actor="gpu-worker",
            reason=f"{stored} candidates",
            from_states=[JobState.GENERATING],
        )
    GenerationJob.objects.filter(pk=job.pk).update(
        progress_step=job.progress_total or job.progress_step
    )
    logger.info(
        "Job %s of shop %s: %s new candidates stored (model %s on %s)",
        job.pk,
        job.shop.domain,
        stored,
        result.get("model"),
        result.get("device"),
    )
    return job


def _job_thumbnails(job: GenerationJob) -> None:
    """Store the review queue's source and mask-overlay thumbnails before the first request."""
    from wearview.studio.thumbnails import (
        ThumbnailUnavailable,
        overlay_thumbnail_key,
        source_thumbnail_key,
    )

    job = GenerationJob.objects.select_related("source_image").get(pk=job.pk)
    for make in (source_thumbnail_key, overlay_thumbnail_key):
        try:
            make(job)
        except (ThumbnailUnavailable, OSError) as exc:
            logger.warning("Job %s of shop id %s: thumbnail not made: %s", job.pk, job.shop_id, exc)


def job_record_progress(*, job_id: int, round: int, step: int, total: int) -> None:
    """Record the denoising step a job's generation has reached."""
    GenerationJob.objects.filter(pk=job_id, round=round, state=JobState.GENERATING).update(
        progress_step=step, progress_total=total, updated_at=timezone.now()
    )


def job_record_generation_failure(*, job_id: int, round: int, reason: str) -> None:
    """Fail a generating job with the GPU worker's reason; later rounds are left alone."""
    with transaction.atomic():
        job = GenerationJob.objects.filter(pk=job_id, round=round).first()
        if job is None or job.state != JobState.GENERATING:
            logger.info("Generation failure for job %s round %s dropped: %s", job_id, round, reason)
            return
    job_transition(
        job_id=job_id,
        to_state=JobState.FAILED,
        reason=reason,
        actor="gpu-worker",
        from_states=[JobState.GENERATING],
    )

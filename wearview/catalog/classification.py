"""Classification of stored product images into product-only and on-model photos."""

import logging
from dataclasses import dataclass, field

from django.db import transaction

from wearview.catalog.models import ImageClassification, ProductImage

logger = logging.getLogger(__name__)


@dataclass
class ClassifyReport:
    classified: int = 0
    skipped: int = 0
    failed: list[tuple[int, str]] = field(default_factory=list)


def images_classify(*, image_ids: list[int], force: bool = False) -> ClassifyReport:
    """Classify each stored image and save the result, keeping manual overrides.

    A bad image (corrupt, too large, not an image) gets its error code and message on its own
    row and the rest of the batch goes on. Images classified before are skipped unless `force`.
    """
    from wearview.imaging.classify import classify_image
    from wearview.imaging.errors import ImageError
    from wearview.imaging.load import load_image

    report = ClassifyReport()
    images = (
        ProductImage.objects.filter(pk__in=image_ids)
        .select_related("product", "shop", "classification")
        .order_by("pk")
    )
    for image in images:
        existing = getattr(image, "classification", None)
        if existing is not None and not force:
            report.skipped += 1
            continue
        if not image.stored:
            report.skipped += 1
            continue
        try:
            with image.stored.open("rb") as handle:
                data = handle.read()
            loaded = load_image(data, name=image.stored.name)
            result = classify_image(
                loaded,
                alt_text=image.alt,
                file_name=image.url.rsplit("/", 1)[-1].split("?", 1)[0],
                position=image.position,
                product_type=image.product.product_type,
            )
        except ImageError as exc:
            _record_image_error(image, getattr(exc, "code", "invalid_image"), str(exc))
            report.failed.append((image.pk, str(exc)))
            continue
        except OSError as exc:
            _record_image_error(image, "storage_error", f"Stored copy cannot be read: {exc}")
            report.failed.append((image.pk, str(exc)))
            continue
        with transaction.atomic():
            ImageClassification.objects.update_or_create(
                image=image,
                defaults={
                    "kind": result.kind,
                    "subtype": result.subtype,
                    "confidence": float(result.confidence),
                    "evidence": result.evidence,
                    "classifier_version": str(getattr(result, "version", ""))[:40],
                },
            )
            if image.error_code:
                ProductImage.objects.filter(pk=image.pk).update(error_code="", error_message="")
        report.classified += 1
        logger.info(
            "Image %s of shop %s product %s classified %s (%s, %.2f)",
            image.pk,
            image.shop.domain,
            image.product_id,
            result.kind,
            result.subtype,
            result.confidence,
        )
    return report


def _record_image_error(image: ProductImage, code: str, message: str) -> None:
    ProductImage.objects.filter(pk=image.pk).update(error_code=code[:40], error_message=message)
    logger.warning(
        "Image %s of shop %s product %s not classified: %s",
        image.pk,
        image.shop.domain,
        image.product_id,
        message,
    )

"""Publishing an approved candidate image to its Shopify product, and withdrawing it.

A publish runs these steps, and each one records its result before the next starts, so a
retry after a crash at any point continues where the crash left off:

1. staged upload of the image file (the staged resource URL is stored),
2. attach to the product with `productUpdate(media:)` (the time of the request is stored first,
   so a retry looks for the media on the product before attaching again),
3. record the media id and the WearView image row (origin WEARVIEW, so the `products/update`
   webhook caused by the attach starts no generation),
4. poll the media until READY or FAILED,
5. `productVariantAppendMedia` for the job's variants,
6. mark the publication ready and the job published.
"""

import logging
import mimetypes
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import PurePosixPath

import requests
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.shopify.client import ShopifyClient
from integrations.shopify.errors import ShopifyTransientError, ShopifyUserErrors
from integrations.shopify.models import PublicationProgress
from wearview.catalog.models import ImageOrigin, ProductImage
from wearview.catalog.services import product_image_record_publish
from wearview.catalog.signals import products_synced
from wearview.errors import PermanentError, TransientError
from wearview.studio.models import JobState, Publication, PublicationStatus
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

# Media processing usually takes seconds. A task polls this long, then gives the worker back
# and is retried (TransientError), resuming at the polling step.
POLL_SECONDS = 60.0
POLL_INTERVAL_SECONDS = 0.5
ATTACH_ATTEMPTS = 4
# Shopify rejects alt text longer than this.
ALT_MAX_CHARS = 512


class MediaProcessingPending(TransientError):
    code = "media_processing"


@dataclass
class PublishContext:
    publication: Publication
    progress: PublicationProgress
    client: ShopifyClient
    sleep: Callable[[float], None]


def _alt_text(publication: Publication) -> str:
    text = publication.alt_text or publication.shop.disclosure_text
    return text[:ALT_MAX_CHARS]


def _load(publication_id: int) -> Publication:
    return Publication.objects.select_related(
        "shop", "candidate", "candidate__job", "candidate__job__product"
    ).get(pk=publication_id)


def _progress(publication: Publication) -> PublicationProgress:
    progress, _ = PublicationProgress.objects.get_or_create(
        publication=publication, defaults={"product": publication.candidate.job.product}
    )
    return progress


def _file_bytes(publication: Publication) -> tuple[bytes, str, str]:
    field = publication.candidate.image
    with field.open("rb") as handle:
        data = handle.read()
    suffix = PurePosixPath(field.name).suffix.lower() or ".png"
    mime = mimetypes.types_map.get(suffix, "image/png")
    filename = f"wearview-{publication.idempotency_key}{suffix}"
    return data, mime, filename


# --- steps -------------------------------------------------------------------------------------


def _stage(ctx: PublishContext) -> None:
    """Step 1: upload the file to a staged target and store its resource URL."""
    publication = ctx.publication
    data, mime, filename = _file_bytes(publication)
    payload = ctx.client.execute_mutation(
        "staged_uploads_create",
        "stagedUploadsCreate",
        {
            "input": [
                {
                    "filename": filename,
                    "mimeType": mime,
                    "resource": "IMAGE",
                    "httpMethod": "POST",
                    "fileSize": str(len(data)),
                }
            ]
        },
    )
    target = payload["stagedTargets"][0]
    form = [(p["name"], p["value"]) for p in target["parameters"]]
    try:
        response = requests.post(
            target["url"],
            data=form,
            files={"file": (filename, data, mime)},
            timeout=settings.SHOPIFY_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise ShopifyTransientError(
            f"Shop {publication.shop.domain} staged upload of publication {publication.pk} "
            f"failed: {exc}"
        ) from None
    if response.status_code >= 500:
        raise ShopifyTransientError(
            f"Shop {publication.shop.domain} staged upload of publication {publication.pk} "
            f"failed with HTTP {response.status_code}."
        )
    if response.status_code >= 300:
        raise PermanentError(
            f"Shop {publication.shop.domain} rejected the staged upload of publication "
            f"{publication.pk} with HTTP {response.status_code}: {response.text[:300]}"
        )
    with transaction.atomic():
        publication.staged_resource_url = target["resourceUrl"]
        publication.status = PublicationStatus.STAGED
        publication.save(update_fields=["staged_resource_url", "status", "updated_at"])
        ctx.progress.staged_filename = filename
        ctx.progress.save(update_fields=["staged_filename", "updated_at"])
    logger.info(
        "Shop %s publication %s staged %s bytes as %s",
        publication.shop.domain,
        publication.pk,
        len(data),
        filename,
    )


def _find_attached(ctx: PublishContext) -> str | None:
    """Return the id of product media created from this publication's staged upload, if any."""
    product = ctx.progress.product
    node = ctx.client.execute("product_media_sources", {"id": product.shopify_id}).data["product"]
    if node is None:
        raise PermanentError(
            f"Shop {ctx.publication.shop.domain} product {product.shopify_id} no longer exists; "
            f"publication {ctx.publication.pk} cannot attach its image."
        )
    return _media_from_source(node, ctx.publication.staged_resource_url)


def _media_from_source(product_node: dict, resource_url: str) -> str | None:
    for media in product_node["media"]["nodes"]:
        if (media.get("originalSource") or {}).get("url") == resource_url:
            return media["id"]
    return None


def _attach(ctx: PublishContext) -> str:
    """Step 2: attach the staged file to the product, unless an earlier attempt already did.

    Before a repeated attach, the product's media are searched for the staged upload's URL,
    so an attach that went through before a crash or a lost response is not sent again.
    """
    publication = ctx.publication
    product = ctx.progress.product
    for attempt in range(1, ATTACH_ATTEMPTS + 1):
        if ctx.progress.attach_requested_at is not None:
            found = _find_attached(ctx)
            if found is not None:
                logger.info(
                    "Shop %s publication %s: media %s was attached before; not attaching again",
                    publication.shop.domain,
                    publication.pk,
                    found,
                )
                return found
        ctx.progress.attach_requested_at = timezone.now()
        ctx.progress.save(update_fields=["attach_requested_at", "updated_at"])
        try:
            payload = ctx.client.execute_mutation(
                "product_media_attach",
                "productUpdate",
                {
                    "product": {"id": product.shopify_id},
                    "media": [
                        {
                            "originalSource": publication.staged_resource_url,
                            "mediaContentType": "IMAGE",
                            "alt": _alt_text(publication),
                        }
                    ],
                },
                idempotent=False,
            )
        except ShopifyTransientError:
            if attempt == ATTACH_ATTEMPTS:
                raise
            # The outcome is unknown; the next pass looks for the media before trying again.
            ctx.sleep(min(2.0**attempt * 0.25, 5.0))
            continue
        media_id = _media_from_source(payload["product"], publication.staged_resource_url)
        if media_id is None:
            raise PermanentError(
                f"Shop {publication.shop.domain} attached publication {publication.pk} but the "
                f"answer lists no media with its source URL."
            )
        return media_id
    raise AssertionError("unreachable: the loop returns or raises")


def _record_media(ctx: PublishContext, media_id: str) -> None:
    """Step 3: store the media id and the WearView image row in one transaction."""
    publication = ctx.publication
    with transaction.atomic():
        # Linked to no variant until step 5 links it: a product-level image covers them all.
        image = product_image_record_publish(
            product=ctx.progress.product,
            shopify_media_id=media_id,
            variant_ids=[],
            alt=_alt_text(publication),
            stored_name=publication.candidate.image.name,
        )
        publication.shopify_media_id = media_id
        publication.alt_text = _alt_text(publication)
        publication.status = PublicationStatus.ATTACHED
        publication.save(update_fields=["shopify_media_id", "alt_text", "status", "updated_at"])
        ctx.progress.image = image
        ctx.progress.save(update_fields=["image", "updated_at"])
    logger.info(
        "Shop %s publication %s attached as media %s",
        publication.shop.domain,
        publication.pk,
        media_id,
    )


def _poll(ctx: PublishContext, poll_seconds: float) -> dict:
    """Step 4: wait until the media is READY or FAILED and return its node."""
    publication = ctx.publication
    deadline = time.monotonic() + poll_seconds
    interval = POLL_INTERVAL_SECONDS
    while True:
        nodes = ctx.client.execute("media_status", {"ids": [publication.shopify_media_id]}).data
        node = (nodes.get("nodes") or [None])[0]
        if node is None:
            raise PermanentError(
                f"Shop {publication.shop.domain} media {publication.shopify_media_id} of "
                f"publication {publication.pk} no longer exists."
            )
        if node["status"] in ("READY", "FAILED"):
            return node
        if time.monotonic() >= deadline:
            raise MediaProcessingPending(
                f"Shop {publication.shop.domain} media {publication.shopify_media_id} is still "
                f"{node['status']} after {poll_seconds:.0f} s; polling again later."
            )
        ctx.sleep(interval)
        interval = min(interval * 1.5, 5.0)


def _fail(ctx: PublishContext, node: dict) -> None:
    publication = ctx.publication
    errors = node.get("mediaErrors") or []
    message = "; ".join(
        f"{e.get('message')}{' (' + e['details'] + ')' if e.get('details') else ''}" for e in errors
    )
    reason = f"Shopify could not process the image: {message or 'no reason given'}"
    with transaction.atomic():
        publication.status = PublicationStatus.FAILED
        publication.error_message = reason
        publication.save(update_fields=["status", "error_message", "updated_at"])
        ProductImage.objects.filter(
            shop=publication.shop, shopify_media_id=publication.shopify_media_id
        ).update(media_status="FAILED", error_code="media_failed", error_message=reason[:2000])
        job_transition(
            job_id=publication.candidate.job_id,
            to_state=JobState.FAILED,
            reason=reason,
            actor="publish",
            from_states=[JobState.PUBLISHING],
        )
    logger.warning(
        "Shop %s publication %s failed: %s", publication.shop.domain, publication.pk, reason
    )


def _append_to_variants(ctx: PublishContext) -> None:
    """Step 5: make the image the variant image of the job's variants.

    Shopify lets a variant show one media item, so the merchant media a variant shows is
    detached from that variant first. The merchant's media stays on the product, and the
    detached links are stored so that a withdrawal gives them back. A refusal is recorded,
    not fatal: the image is on the product either way.
    """
    publication = ctx.publication
    product = ctx.progress.product
    job_variants = list(publication.candidate.job.variants.all())
    variants = {v.shopify_id: v.pk for v in job_variants}
    if not variants:
        _record_variant_step(ctx, [])
        return

    # Stored before the detach is sent, so a withdrawal after a crash can still restore them.
    if not ctx.progress.replaced_variant_media:
        replaced: dict[str, list[str]] = {}
        merchant_links = ProductImage.variants.through.objects.filter(
            variant_id__in=variants.values(),
            productimage__origin=ImageOrigin.MERCHANT,
        ).values_list("variant__shopify_id", "productimage__shopify_media_id")
        for variant_gid, media_gid in merchant_links:
            replaced.setdefault(variant_gid, []).append(media_gid)
        ctx.progress.replaced_variant_media = replaced
        ctx.progress.save(update_fields=["replaced_variant_media", "updated_at"])

    errors: list[dict] = []
    replaced = ctx.progress.replaced_variant_media
    try:
        if replaced:
            ctx.client.execute_mutation(
                "product_variant_detach_media",
                "productVariantDetachMedia",
                {
                    "productId": product.shopify_id,
                    "variantMedia": [
                        {"variantId": gid, "mediaIds": media_ids}
                        for gid, media_ids in sorted(replaced.items())
                    ],
                },
            )
        ctx.client.execute_mutation(
            "product_variant_append_media",
            "productVariantAppendMedia",
            {
                "productId": product.shopify_id,
                "variantMedia": [
                    {"variantId": gid, "mediaIds": [publication.shopify_media_id]}
                    for gid in variants
                ],
            },
        )
    except ShopifyUserErrors as exc:
        errors = exc.user_errors
        logger.warning(
            "Shop %s publication %s: image left at product level: %s",
            publication.shop.domain,
            publication.pk,
            "; ".join(str(e.get("message")) for e in errors[:5]),
        )
    else:
        if ctx.progress.image_id is not None:
            ctx.progress.image.variants.set(list(variants.values()))
    _record_variant_step(ctx, errors)


def _record_variant_step(ctx: PublishContext, errors: list[dict]) -> None:
    ctx.progress.variants_appended_at = timezone.now()
    ctx.progress.variant_errors = errors
    ctx.progress.save(update_fields=["variants_appended_at", "variant_errors", "updated_at"])


def _restore_variant_media(publication: Publication, client: ShopifyClient, product) -> None:
    """Give the variants back the merchant media the publish detached; failures are logged."""
    progress = getattr(publication, "shopify_progress", None)
    replaced = progress.replaced_variant_media if progress is not None else {}
    if not replaced:
        return
    try:
        client.execute_mutation(
            "product_variant_append_media",
            "productVariantAppendMedia",
            {
                "productId": product.shopify_id,
                "variantMedia": [
                    {"variantId": gid, "mediaIds": media_ids}
                    for gid, media_ids in sorted(replaced.items())
                ],
            },
        )
    except ShopifyUserErrors as exc:
        logger.warning(
            "Shop %s publication %s: merchant variant images not restored: %s",
            publication.shop.domain,
            publication.pk,
            "; ".join(str(e.get("message")) for e in exc.user_errors[:5]),
        )


def _complete(ctx: PublishContext, node: dict) -> None:
    """Step 6: the publication is ready and the job published."""
    publication = ctx.publication
    image = node.get("image") or {}
    with transaction.atomic():
        ProductImage.objects.filter(
            shop=publication.shop, shopify_media_id=publication.shopify_media_id
        ).update(
            media_status="READY",
            url=image.get("url") or "",
            width=image.get("width"),
            height=image.get("height"),
        )
        publication.status = PublicationStatus.READY
        publication.published_at = timezone.now()
        publication.save(update_fields=["status", "published_at", "updated_at"])
        job_transition(
            job_id=publication.candidate.job_id,
            to_state=JobState.PUBLISHED,
            reason=f"media {publication.shopify_media_id}",
            actor="publish",
            from_states=[JobState.PUBLISHING],
        )
    logger.info(
        "Shop %s publication %s is live as media %s",
        publication.shop.domain,
        publication.pk,
        publication.shopify_media_id,
    )


def _restart(ctx: PublishContext) -> None:
    """Start a failed publication again from the upload, after a retry reset it to pending.

    The media of the failed attempt is detached from the product first, so the product ends
    with one WearView image.
    """
    publication = ctx.publication
    product = ctx.progress.product
    if publication.shopify_media_id:
        try:
            ctx.client.execute_mutation(
                "file_update",
                "fileUpdate",
                {
                    "files": [
                        {
                            "id": publication.shopify_media_id,
                            "referencesToRemove": [product.shopify_id],
                        }
                    ]
                },
            )
        except ShopifyUserErrors as exc:
            # NOTE: a FAILED file cannot be updated, so it stays on the product with no
            # processed image. `fileDelete` would remove it, but the dev store does not serve
            # that mutation, so it is not used yet.
            logger.warning(
                "Shop %s publication %s: old media not detached: %s",
                publication.shop.domain,
                publication.pk,
                exc,
            )
    with transaction.atomic():
        ProductImage.objects.filter(
            shop=publication.shop,
            shopify_media_id=publication.shopify_media_id,
            origin=ImageOrigin.WEARVIEW,
        ).exclude(shopify_media_id="").delete()
        publication.shopify_media_id = ""
        publication.staged_resource_url = ""
        publication.error_message = ""
        publication.save(
            update_fields=["shopify_media_id", "staged_resource_url", "error_message", "updated_at"]
        )
        ctx.progress.attach_requested_at = None
        ctx.progress.image = None
        ctx.progress.variants_appended_at = None
        ctx.progress.variant_errors = []
        ctx.progress.save()
    logger.info("Shop %s publication %s starts again", publication.shop.domain, publication.pk)


# --- public ------------------------------------------------------------------------------------


def publication_publish(
    *,
    publication_id: int,
    client: ShopifyClient | None = None,
    sleep: Callable[[float], None] = time.sleep,
    poll_seconds: float = POLL_SECONDS,
) -> Publication:
    """Publish the publication's candidate image to its product; safe to call again at any time.

    The job must be in `publishing`. Returns the publication, READY or FAILED, or raises when
    it must be retried.

    Raises:
        MediaProcessingPending: Shopify still processes the media; retry later.
        ShopNotConnected: the shop's token is gone (uninstalled or revoked).
        ShopifyTransientError, ShopifyRequestError, ShopifyUserErrors, PermanentError: from
            Shopify; transient ones are retried by the task.
    """
    publication = _load(publication_id)
    if publication.status in (
        PublicationStatus.READY,
        PublicationStatus.FAILED,
        PublicationStatus.WITHDRAWN,
    ):
        return publication
    ctx = PublishContext(
        publication=publication,
        progress=_progress(publication),
        client=client or ShopifyClient(publication.shop),
        sleep=sleep,
    )
    ctx.client.context = f"publication {publication.pk}, job {publication.candidate.job_id}"
    if publication.status == PublicationStatus.PENDING and (
        publication.shopify_media_id or publication.staged_resource_url
    ):
        _restart(ctx)
    if not publication.shopify_media_id:
        if not publication.staged_resource_url:
            _stage(ctx)
        media_id = _attach(ctx)
        _record_media(ctx, media_id)
    node = _poll(ctx, poll_seconds)
    if node["status"] == "FAILED":
        _fail(ctx, node)
        return publication
    if ctx.progress.variants_appended_at is None:
        _append_to_variants(ctx)
    _complete(ctx, node)
    return publication


def publication_withdraw(
    *, publication_id: int, client: ShopifyClient | None = None
) -> Publication:
    """Remove a published image from its product; the merchant's own images stay untouched.

    The media's reference to the product is removed with `fileUpdate(referencesToRemove:)`,
    the variants get back the merchant media the publish detached from them, the WearView image
    row is deleted and the job moves to `withdrawn`. Calling it again does nothing.
    """
    publication = _load(publication_id)
    if publication.status == PublicationStatus.WITHDRAWN:
        return publication
    if not publication.shopify_media_id:
        raise PermanentError(
            f"Publication {publication.pk} of shop {publication.shop.domain} has no media on "
            f"Shopify; there is nothing to withdraw."
        )
    product = publication.candidate.job.product
    client = client or ShopifyClient(publication.shop)
    client.context = f"publication {publication.pk}, job {publication.candidate.job_id}"
    client.execute_mutation(
        "file_update",
        "fileUpdate",
        {
            "files": [
                {"id": publication.shopify_media_id, "referencesToRemove": [product.shopify_id]}
            ]
        },
    )
    _restore_variant_media(publication, client, product)
    with transaction.atomic():
        ProductImage.objects.filter(
            shop=publication.shop,
            shopify_media_id=publication.shopify_media_id,
            origin=ImageOrigin.WEARVIEW,
        ).delete()
        publication.status = PublicationStatus.WITHDRAWN
        publication.withdrawn_at = timezone.now()
        publication.save(update_fields=["status", "withdrawn_at", "updated_at"])
        job = publication.candidate.job
        if job.state == JobState.PUBLISHED:
            job_transition(
                job_id=job.pk,
                to_state=JobState.WITHDRAWN,
                reason=f"media {publication.shopify_media_id} withdrawn",
                actor="withdraw",
                from_states=[JobState.PUBLISHED],
            )
        shop_id, product_id = publication.shop_id, product.pk
        # Sent with cause "publish": the studio must not start a generation because WearView
        # itself removed an image.
        transaction.on_commit(
            lambda: products_synced.send(
                sender=ProductImage, shop_id=shop_id, product_ids=[product_id], cause="publish"
            )
        )
    logger.info(
        "Shop %s publication %s withdrawn (media %s)",
        publication.shop.domain,
        publication.pk,
        publication.shopify_media_id,
    )
    return publication

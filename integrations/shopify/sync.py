"""Copying a shop's catalog from Shopify: full sync by pages or by bulk operation, incremental
sync of single products from webhooks, deletions, and copies of images in storage."""

import hashlib
import io
import json
import logging
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from PIL import Image, UnidentifiedImageError

from integrations.shopify.client import ShopifyClient
from integrations.shopify.documents import load_document
from integrations.shopify.errors import ShopifyRequestError
from integrations.shopify.models import SyncMode, SyncRun, SyncStatus
from wearview.catalog.models import Product, ProductImage, Shop
from wearview.catalog.services import (
    ImageRecord,
    ProductRecord,
    UpsertResult,
    VariantRecord,
    products_mark_deleted,
    products_upsert,
)

logger = logging.getLogger(__name__)

# Products per page. The page query costs 75 points per product before it runs (a product, 10
# variants with one media id each, 10 media), and Shopify rejects a query whose requested cost
# exceeds 1,000 points: 13 products request 977.
PAGE_SIZE = 13
# Nested page sizes of products_page.graphql; a product that fills one is fetched again alone.
PAGE_VARIANTS = 10
PAGE_MEDIA = 10
# Products stored per transaction when a bulk result is written.
BULK_BATCH = 2000
IMAGE_DOWNLOAD_MAX_BYTES = 25 * 1024 * 1024
# error_code of an image whose copy to storage failed.
COPY_FAILED = "copy_failed"


# --- Shopify nodes to catalog records ----------------------------------------------------------


def _datetime(value: str | None) -> datetime | None:
    return parse_datetime(value) if value else None


def _image_record(node: dict, position: int) -> ImageRecord | None:
    # Only MediaImage nodes carry the `image` key (videos and 3D models do not); its value is
    # null while Shopify is still processing the file.
    if "image" not in node:
        return None
    image = node.get("image") or {}
    return ImageRecord(
        shopify_media_id=node["id"],
        url=image.get("url") or "",
        alt=node.get("alt") or "",
        position=position,
        width=image.get("width"),
        height=image.get("height"),
        media_status=node.get("status") or "",
    )


def _variant_record(node: dict, media_ids: list[str]) -> VariantRecord:
    return VariantRecord(
        shopify_id=node["id"],
        sku=node.get("sku") or "",
        title=node.get("title") or "",
        position=node.get("position") or 1,
        sellable=bool(node.get("availableForSale", True)),
        selected_options=[
            {"name": o["name"], "value": o["value"]} for o in node.get("selectedOptions") or []
        ],
        media_ids=media_ids,
    )


def _product_record(node: dict) -> ProductRecord:
    return ProductRecord(
        shopify_id=node["id"],
        handle=node.get("handle") or "",
        title=node.get("title") or "",
        body_html=node.get("descriptionHtml") or "",
        vendor=node.get("vendor") or "",
        product_type=node.get("productType") or "",
        tags=list(node.get("tags") or []),
        status=node.get("status") or "",
        updated_at=_datetime(node.get("updatedAt")),
    )


def _nodes(connection: dict | None) -> list[dict]:
    # Shopify returns null for a connection or a node it could not resolve (a deleted object,
    # a missing permission). Those are left out, so the rest of the page is still stored.
    return [node for node in (connection or {}).get("nodes") or [] if node]


def product_record_from_node(node: dict) -> ProductRecord:
    """Convert a product node of products_page.graphql or product.graphql to a record."""
    record = _product_record(node)
    for variant in _nodes(node.get("variants")):
        if not variant.get("id"):
            continue
        media_ids = [m["id"] for m in _nodes(variant.get("media")) if m.get("id")]
        record.variants.append(_variant_record(variant, media_ids))
    for position, media in enumerate(_nodes(node.get("media")), start=1):
        if not media.get("id"):
            continue
        image = _image_record(media, position)
        if image is not None:
            record.images.append(image)
    return record


def _records_from_page(
    shop: Shop, nodes: list | None, client: ShopifyClient
) -> list[ProductRecord]:
    records = []
    for node in nodes or []:
        if not node or not node.get("id"):
            logger.warning("Shop %s: product node without an id skipped: %r", shop.domain, node)
            continue
        if _fills_nested_page(node):
            node = client.execute("product", {"id": node["id"]}).data.get("product") or node
        records.append(product_record_from_node(node))
    return records


def _fills_nested_page(node: dict) -> bool:
    return (
        len(_nodes(node.get("variants"))) >= PAGE_VARIANTS
        or len(_nodes(node.get("media"))) >= PAGE_MEDIA
    )


# --- publishes the sync must recognise ---------------------------------------------------------


def _wearview_media_ids(shop: Shop, shopify_product_ids: Iterable[str]) -> set[str]:
    from wearview.studio.models import Publication

    # Publications keep the media id; the publish also stored it on the image row it created.
    ids = set(
        Publication.objects.filter(shop=shop)
        .exclude(shopify_media_id="")
        .filter(candidate__job__product__shopify_id__in=list(shopify_product_ids))
        .values_list("shopify_media_id", flat=True)
    )
    return ids


def _upsert(
    shop: Shop,
    records: list[ProductRecord],
    cause: str,
    fetched_at: datetime,
    copy_images: bool = True,
) -> UpsertResult:
    result = products_upsert(
        shop=shop,
        records=records,
        cause=cause,
        fetched_at=fetched_at,
        wearview_media_ids=_wearview_media_ids(shop, [r.shopify_id for r in records]),
    )
    if copy_images and result.images_to_copy:
        _enqueue_image_copies(result.images_to_copy)
    return result


def _enqueue_image_copies(image_ids: list[int]) -> None:
    from integrations.shopify.tasks import copy_images_task

    ids = list(image_ids)
    transaction.on_commit(lambda: copy_images_task.delay(ids))


# --- stalled runs -----------------------------------------------------------------------------

# Times the sweep sends a stalled run's task again before it fails the run, so that a run
# that crashes its worker every time does not block the shop's syncs for good.
MAX_SYNC_RESUMES = 3


def sync_runs_resume_stalled(*, now: datetime | None = None) -> dict[str, int]:
    """Send again the task of every running sync that made no progress within
    WEARVIEW_SYNC_STALL_LIMIT, or fail it after MAX_SYNC_RESUMES tries.

    A run's task can be lost: the embedded broker drops the message of a killed worker, and a
    task can exhaust its retries on a long Shopify outage. Its run would stay `running`, and
    one running run per shop is allowed, so no later sync of the shop would start. Page runs
    resume after their last stored page; bulk runs check their operation again. Returns how
    many runs were resumed and failed.
    """
    from integrations.shopify.tasks import finish_bulk_sync_task, sync_shop_task

    now = now or timezone.now()
    cutoff = now - timedelta(seconds=settings.WEARVIEW_SYNC_STALL_LIMIT)
    counts = {"resumed": 0, "failed": 0}
    stalled = SyncRun.objects.filter(status=SyncStatus.RUNNING, progressed_at__lt=cutoff)
    for run in stalled.select_related("shop"):
        if not run.shop.is_installed:
            sync_run_fail(run_id=run.pk, reason="the shop uninstalled the app")
            counts["failed"] += 1
            logger.info(
                "Shop %s sync %s failed: the shop is not installed", run.shop.domain, run.pk
            )
            continue
        if run.resumes >= MAX_SYNC_RESUMES:
            reason = (
                f"no progress for {settings.WEARVIEW_SYNC_STALL_LIMIT} s after {run.resumes} "
                f"resumes; check the workers' logs for sync {run.pk}. The next periodic sync "
                f"starts a new run."
            )
            sync_run_fail(run_id=run.pk, reason=reason)
            counts["failed"] += 1
            logger.error("Shop %s sync %s failed: %s", run.shop.domain, run.pk, reason)
            continue
        # Claimed with a conditional update, so two sweeps never both resend the same run.
        claimed = SyncRun.objects.filter(
            pk=run.pk, status=SyncStatus.RUNNING, progressed_at=run.progressed_at
        ).update(progressed_at=now, resumes=run.resumes + 1)
        if not claimed:
            continue
        if run.mode == SyncMode.BULK and run.bulk_operation_id:
            finish_bulk_sync_task.delay(run.pk)
        else:
            sync_shop_task.delay(run.shop_id, run.mode)
        counts["resumed"] += 1
        logger.warning(
            "Shop %s %s sync %s made no progress since %s; resumed (%s of %s)",
            run.shop.domain,
            run.mode,
            run.pk,
            run.progressed_at.isoformat(),
            run.resumes + 1,
            MAX_SYNC_RESUMES,
        )
    return counts


# --- full sync by pages ------------------------------------------------------------------------


def _start_run(shop: Shop, mode: str) -> SyncRun:
    running = SyncRun.objects.filter(shop=shop, status=SyncStatus.RUNNING).first()
    if running is not None:
        return running
    try:
        with transaction.atomic():
            return SyncRun.objects.create(shop=shop, mode=mode, started_at=timezone.now())
    except IntegrityError:
        # Another worker started a run for this shop between the lookup and the insert.
        return SyncRun.objects.get(shop=shop, status=SyncStatus.RUNNING)


def _finish_run(run: SyncRun) -> SyncRun:
    deleted = products_mark_deleted(shop=run.shop, not_synced_since=run.started_at, cause="sync")
    now = timezone.now()
    run.products_deleted = len(deleted)
    run.status = SyncStatus.SUCCEEDED
    run.finished_at = now
    run.save()
    Shop.objects.filter(pk=run.shop_id).update(last_synced_at=now)
    logger.info(
        "Shop %s %s sync %s done: %s products, %s pages, %s deleted, cost %s requested %s actual",
        run.shop.domain,
        run.mode,
        run.pk,
        run.products_seen,
        run.pages,
        run.products_deleted,
        run.requested_cost,
        run.actual_cost,
    )
    return run


def sync_run_fail(*, run_id: int, reason: str) -> None:
    """Mark a running sync failed, so a later sync of the shop starts a new run."""
    SyncRun.objects.filter(pk=run_id, status=SyncStatus.RUNNING).update(
        status=SyncStatus.FAILED, error_message=reason[:2000], finished_at=timezone.now()
    )


def shop_sync_pages(
    *,
    shop: Shop,
    client: ShopifyClient | None = None,
    page_size: int = PAGE_SIZE,
    copy_images: bool = True,
) -> SyncRun:
    """Copy the whole catalog page by page and mark products Shopify no longer has as deleted.

    A run that stopped part way (a crash, a retried task) resumes after its last stored page.
    Each page is stored in one transaction together with the run's cursor. With `copy_images`
    false, new or changed images are not queued for copying to storage (benchmarks use it).

    Raises:
        ShopNotConnected, ShopifyTransientError, ShopifyRequestError: from the client.
    """
    client = client or ShopifyClient(shop)
    run = _start_run(shop, SyncMode.PAGES)
    if run.mode != SyncMode.PAGES:
        raise ShopifyRequestError(
            f"Shop {shop.domain} already runs a {run.mode} sync ({run.pk}); wait for it to finish."
        )
    logger.info("Shop %s page sync %s started at cursor %r", shop.domain, run.pk, run.cursor)
    cursor = run.cursor or None
    while True:
        fetched_at = timezone.now()
        page = client.execute("products_page", {"first": page_size, "after": cursor})
        connection = page.data["products"]
        records = _records_from_page(shop, connection.get("nodes"), client)
        info = connection["pageInfo"]
        with transaction.atomic():
            _upsert(shop, records, "sync", fetched_at, copy_images)
            run.cursor = info["endCursor"] or run.cursor
            run.pages += 1
            run.products_seen += len(records)
            run.requested_cost += page.requested_cost
            run.actual_cost += page.actual_cost
            run.progressed_at = timezone.now()
            run.save(
                update_fields=[
                    "cursor",
                    "pages",
                    "products_seen",
                    "requested_cost",
                    "actual_cost",
                    "progressed_at",
                ]
            )
        if not info["hasNextPage"]:
            break
        cursor = info["endCursor"]
    return _finish_run(run)


# --- incremental sync from webhooks ------------------------------------------------------------


def product_sync_one(
    *, shop: Shop, shopify_id: str, client: ShopifyClient | None = None, cause: str = "webhook"
) -> UpsertResult | None:
    """Fetch one product and store it; mark it deleted when Shopify no longer has it.

    Returns the upsert result, or None when the product was gone.
    """
    client = client or ShopifyClient(shop)
    fetched_at = timezone.now()
    node = client.execute("product", {"id": shopify_id}).data.get("product")
    if node is None:
        products_mark_deleted(shop=shop, shopify_ids=[shopify_id], cause=cause)
        return None
    return _upsert(shop, [product_record_from_node(node)], cause, fetched_at)


def product_is_newer_than_stored(
    *, shop: Shop, shopify_id: str, updated_at: datetime | None
) -> bool:
    """Return whether a webhook's `updated_at` is not older than the stored copy.

    Equal times count as newer, because Shopify's `updated_at` has one-second resolution: two
    edits in one second carry the same time, and the later one must still be applied.
    """
    if updated_at is None:
        return True
    stored = (
        Product.objects.filter(shop=shop, shopify_id=shopify_id)
        .values_list("shopify_updated_at", flat=True)
        .first()
    )
    return stored is None or updated_at >= stored


# --- full sync by bulk operation ---------------------------------------------------------------


def shop_sync_bulk_start(*, shop: Shop, client: ShopifyClient | None = None) -> SyncRun:
    """Start a bulk query of the whole catalog; `bulk_operations/finish` or polling ends it."""
    client = client or ShopifyClient(shop)
    run = _start_run(shop, SyncMode.BULK)
    if run.bulk_operation_id:
        return run
    payload = client.execute_mutation(
        "bulk_operation_run_query",
        "bulkOperationRunQuery",
        {"query": load_document("bulk_products").text},
    )
    run.bulk_operation_id = payload["bulkOperation"]["id"]
    run.progressed_at = timezone.now()
    run.save(update_fields=["bulk_operation_id", "progressed_at"])
    logger.info("Shop %s bulk sync %s started: %s", shop.domain, run.pk, run.bulk_operation_id)
    return run


def bulk_operation_status(
    *, shop: Shop, operation_id: str, client: ShopifyClient | None = None
) -> dict:
    """Return the bulk operation's node: status, errorCode, url, object counts."""
    client = client or ShopifyClient(shop)
    return client.execute("bulk_operation", {"id": operation_id}).data.get("node") or {}


@dataclass
class BulkCatalog:
    """Products read from a bulk JSONL result, with children attached to their parents."""

    products: dict[str, ProductRecord] = field(default_factory=dict)
    lines: int = 0


class BulkJsonlParser:
    """Build product records from the JSONL lines of a bulk query over products.

    Shopify writes every node on its own line and gives nested nodes a `__parentId`. A child
    always comes after its parent, but not necessarily right after it: children of one product
    may follow lines of other products, and a variant's media line may come before the product
    media line of the same image. Records are therefore completed only when the file ends.
    """

    def __init__(self) -> None:
        self.catalog = BulkCatalog()
        self._variants: dict[str, VariantRecord] = {}

    def feed(self, line: bytes | str) -> None:
        if isinstance(line, bytes):
            # Decoding first spares json.loads its encoding detection on every line.
            line = line.decode("utf-8")
        if not line or not line.strip():
            return
        node = json.loads(line)
        self.catalog.lines += 1
        parent_id = node.get("__parentId")
        node_id = node.get("id", "")

        if parent_id is None:
            record = _product_record(node)
            self.catalog.products[node_id] = record
            return
        product = self.catalog.products.get(parent_id)
        if product is not None:
            if node_id.startswith("gid://shopify/ProductVariant/"):
                variant = _variant_record(node, [])
                product.variants.append(variant)
                self._variants[node_id] = variant
            else:
                image = _image_record(node, len(product.images) + 1)
                if image is not None:
                    product.images.append(image)
            return

        variant = self._variants.get(parent_id)
        if variant is not None:
            variant.media_ids.append(node_id)
            return
        raise ValueError(
            f"Bulk JSONL line {self.catalog.lines} has __parentId {parent_id!r} that no earlier "
            f"line defines; the file is truncated or out of order."
        )

    def feed_all(self, lines: Iterable[bytes | str]) -> BulkCatalog:
        for line in lines:
            self.feed(line)
        return self.catalog


def _iter_url_lines(url: str) -> Iterator[bytes]:
    with requests.get(url, stream=True, timeout=settings.SHOPIFY_HTTP_TIMEOUT) as response:
        response.raise_for_status()
        yield from response.iter_lines(chunk_size=256 * 1024)


def shop_sync_bulk_store(
    *, run: SyncRun, lines: Iterable[bytes | str], copy_images: bool = True
) -> SyncRun:
    """Parse a bulk result and store it in batches, then mark products not in it deleted."""
    fetched_at = run.started_at
    catalog = BulkJsonlParser().feed_all(lines)
    records = list(catalog.products.values())
    for start in range(0, len(records), BULK_BATCH):
        batch = records[start : start + BULK_BATCH]
        with transaction.atomic():
            _upsert(run.shop, batch, "sync", fetched_at, copy_images)
            run.products_seen += len(batch)
            run.pages += 1
            run.progressed_at = timezone.now()
            run.save(update_fields=["products_seen", "pages", "progressed_at"])
    return _finish_run(run)


def shop_sync_bulk_finish(*, run_id: int, client: ShopifyClient | None = None) -> SyncRun:
    """Download and store the result of a finished bulk operation.

    Returns the run unchanged while the operation still runs; a failed operation fails the run.
    """
    run = SyncRun.objects.select_related("shop").get(pk=run_id)
    if run.status != SyncStatus.RUNNING:
        return run
    node = bulk_operation_status(shop=run.shop, operation_id=run.bulk_operation_id, client=client)
    status = node.get("status")
    if status in ("CREATED", "RUNNING"):
        # Shopify is still working on it: that counts as progress for the stall sweep.
        SyncRun.objects.filter(pk=run.pk).update(progressed_at=timezone.now())
        return run
    if status != "COMPLETED":
        reason = f"bulk operation {run.bulk_operation_id} ended {status}: {node.get('errorCode')}"
        sync_run_fail(run_id=run.pk, reason=reason)
        logger.warning("Shop %s sync %s failed: %s", run.shop.domain, run.pk, reason)
        run.refresh_from_db()
        return run
    url = node.get("url")
    if not url:
        # A bulk query over an empty catalog completes without a result file.
        return shop_sync_bulk_store(run=run, lines=[])
    return shop_sync_bulk_store(run=run, lines=_iter_url_lines(url))


# --- copies of images in storage ---------------------------------------------------------------


def image_copy(*, image_id: int, session: requests.Session | None = None) -> bool:
    """Copy an image from Shopify's CDN to storage under its content hash.

    Skips the download when the stored copy came from the same url (Shopify gives changed
    files a new url), and skips the write when another image of the shop has the same
    content. Returns True when a download happened.
    """
    image = ProductImage.objects.select_related("shop").filter(pk=image_id).first()
    if image is None or not image.url:
        return False
    if image.stored and image.stored_from_url == image.url:
        return False
    getter = session.get if session is not None else requests.get
    with getter(image.url, stream=True, timeout=settings.SHOPIFY_HTTP_TIMEOUT) as response:
        response.raise_for_status()
        data = response.raw.read(IMAGE_DOWNLOAD_MAX_BYTES + 1, decode_content=True)
    if len(data) > IMAGE_DOWNLOAD_MAX_BYTES:
        raise ValueError(
            f"Shop {image.shop.domain} image {image.shopify_media_id} is larger than "
            f"{IMAGE_DOWNLOAD_MAX_BYTES} bytes; it was not copied."
        )
    digest = hashlib.sha256(data).hexdigest()
    width, height, extension = image.width, image.height, "bin"
    try:
        with Image.open(io.BytesIO(data)) as decoded:
            width, height = decoded.size
            extension = (decoded.format or "bin").lower().replace("jpeg", "jpg")
    except UnidentifiedImageError:
        logger.warning(
            "Shop %s image %s is not a readable image; stored as is",
            image.shop.domain,
            image.shopify_media_id,
        )
    same = (
        ProductImage.objects.filter(shop=image.shop, content_hash=digest)
        .exclude(stored="")
        .values_list("stored", flat=True)
        .first()
    )
    name = same or f"shops/{image.shop_id}/images/{digest[:2]}/{digest}.{extension}"
    if same is None and not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    ProductImage.objects.filter(pk=image.pk).update(
        stored=name,
        content_hash=digest,
        stored_from_url=image.url,
        width=width,
        height=height,
        updated_at=timezone.now(),
    )
    ProductImage.objects.filter(pk=image.pk, error_code=COPY_FAILED).update(
        error_code="", error_message=""
    )
    return True

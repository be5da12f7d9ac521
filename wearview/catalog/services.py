"""Writes to the catalog: upserts of products with their variants and images, and deletions.

The Shopify sync hands over plain records (`ProductRecord` and its parts); nothing here talks
to Shopify. `products_upsert` stores a page of products with a fixed number of SQL statements
whatever the page holds, and sends `products_synced` after the transaction commits.
"""

import logging
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import transaction
from django.utils import timezone

from wearview.catalog.models import ImageOrigin, Product, ProductImage, Shop, Variant
from wearview.catalog.signals import products_deleted, products_synced

logger = logging.getLogger(__name__)

# Rows per INSERT statement. SQLite limits the parameters of one statement, so Django splits a
# larger batch anyway; choosing the split here keeps the statement count predictable.
INSERT_BATCH = 500


@dataclass
class VariantRecord:
    shopify_id: str
    sku: str = ""
    title: str = ""
    position: int = 1
    sellable: bool = True
    selected_options: list[dict] = field(default_factory=list)
    media_ids: list[str] = field(default_factory=list)


@dataclass
class ImageRecord:
    shopify_media_id: str
    url: str = ""
    alt: str = ""
    position: int = 1
    width: int | None = None
    height: int | None = None
    media_status: str = ""


@dataclass
class ProductRecord:
    shopify_id: str
    handle: str = ""
    title: str = ""
    body_html: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = ""
    updated_at: datetime | None = None
    variants: list[VariantRecord] = field(default_factory=list)
    images: list[ImageRecord] = field(default_factory=list)


@dataclass
class UpsertResult:
    """Ids of the products written, and the Shopify ids skipped because the stored copy is newer."""

    product_ids: list[int] = field(default_factory=list)
    skipped_stale: list[str] = field(default_factory=list)
    images_to_copy: list[int] = field(default_factory=list)


PRODUCT_FIELDS = [
    "handle",
    "title",
    "body_html",
    "vendor",
    "product_type",
    "tags",
    "status",
    "shopify_updated_at",
    "deleted_at",
    "synced_at",
]
VARIANT_FIELDS = ["product", "sku", "title", "position", "sellable", "selected_options"]
IMAGE_FIELDS = ["product", "url", "alt", "position", "width", "height", "media_status"]


def _send_on_commit(signal, shop: Shop, product_ids: list[int], cause: str) -> None:
    if not product_ids:
        return
    transaction.on_commit(
        lambda: signal.send(
            sender=Product, shop_id=shop.pk, product_ids=list(product_ids), cause=cause
        )
    )


def products_upsert(
    *,
    shop: Shop,
    records: Sequence[ProductRecord],
    cause: str,
    fetched_at: datetime | None = None,
    wearview_media_ids: Collection[str] = (),
) -> UpsertResult:
    """Store `records` and their variants and images, replacing what the catalog held for them.

    A record older than the stored product (by Shopify's `updatedAt`) is skipped, so a late
    page or webhook never overwrites newer data. Variants and images that a written product no
    longer has are deleted, except images WearView created after `fetched_at`: those are
    publishes newer than the data being written. Images whose id is in `wearview_media_ids`
    are stored with origin WEARVIEW; an existing image keeps its origin.

    Arguments:
        shop: the shop the records belong to.
        records: products as Shopify returned them.
        cause: passed on with `products_synced` ("sync", "webhook" or "publish").
        fetched_at: when the records were read from Shopify; defaults to now.
        wearview_media_ids: media ids WearView published on these products.

    Returns:
        The written product ids, the skipped Shopify ids and the images whose url changed,
        which need a new copy in storage.
    """
    now = timezone.now()
    fetched_at = fetched_at or now
    result = UpsertResult()
    if not records:
        return result

    with transaction.atomic():
        # 1. Skip records older than what is stored.
        stored = dict(
            Product.objects.filter(
                shop=shop, shopify_id__in=[r.shopify_id for r in records]
            ).values_list("shopify_id", "shopify_updated_at")
        )
        fresh: dict[str, ProductRecord] = {}
        for record in records:
            known = stored.get(record.shopify_id)
            if known is not None and record.updated_at is not None and record.updated_at < known:
                result.skipped_stale.append(record.shopify_id)
                continue
            fresh[record.shopify_id] = record
        if not fresh:
            return result

        # 2. Products.
        products = [
            Product(
                shop=shop,
                shopify_id=r.shopify_id,
                handle=r.handle,
                title=r.title,
                body_html=r.body_html,
                vendor=r.vendor,
                product_type=r.product_type,
                tags=r.tags,
                status=r.status,
                shopify_updated_at=r.updated_at,
                deleted_at=None,
                synced_at=now,
            )
            for r in fresh.values()
        ]
        Product.objects.bulk_create(
            products,
            batch_size=INSERT_BATCH,
            update_conflicts=True,
            unique_fields=["shop", "shopify_id"],
            update_fields=PRODUCT_FIELDS,
        )
        product_pk = {p.shopify_id: p.pk for p in products}
        product_ids = list(product_pk.values())

        # 3. Variants.
        variants = [
            Variant(
                shop=shop,
                product_id=product_pk[r.shopify_id],
                shopify_id=v.shopify_id,
                sku=v.sku,
                title=v.title,
                position=v.position,
                sellable=v.sellable,
                selected_options=v.selected_options,
            )
            for r in fresh.values()
            for v in r.variants
        ]
        Variant.objects.bulk_create(
            variants,
            batch_size=INSERT_BATCH,
            update_conflicts=True,
            unique_fields=["shop", "shopify_id"],
            update_fields=VARIANT_FIELDS,
        )
        variant_pk = {v.shopify_id: v.pk for v in variants}
        Variant.objects.filter(product_id__in=product_ids).exclude(
            pk__in=list(variant_pk.values())
        ).delete()

        # 4. Images. The url stored before the upsert tells which images need a new copy.
        media_ids = [i.shopify_media_id for r in fresh.values() for i in r.images]
        previous = dict(
            ProductImage.objects.filter(shop=shop, shopify_media_id__in=media_ids).values_list(
                "shopify_media_id", "stored_from_url"
            )
        )
        wearview = set(wearview_media_ids)
        images = [
            ProductImage(
                shop=shop,
                product_id=product_pk[r.shopify_id],
                shopify_media_id=i.shopify_media_id,
                url=i.url,
                alt=i.alt,
                position=i.position,
                width=i.width,
                height=i.height,
                media_status=i.media_status,
                origin=(
                    ImageOrigin.WEARVIEW if i.shopify_media_id in wearview else ImageOrigin.MERCHANT
                ),
            )
            for r in fresh.values()
            for i in r.images
        ]
        ProductImage.objects.bulk_create(
            images,
            batch_size=INSERT_BATCH,
            update_conflicts=True,
            unique_fields=["shop", "shopify_media_id"],
            update_fields=IMAGE_FIELDS,
        )
        image_pk = {i.shopify_media_id: i.pk for i in images}
        if wearview:
            # An image first stored as the merchant's (a sync that ran during a publish) is
            # claimed by the publication that created it.
            ProductImage.objects.filter(
                shop=shop, shopify_media_id__in=wearview & set(image_pk)
            ).exclude(origin=ImageOrigin.WEARVIEW).update(origin=ImageOrigin.WEARVIEW)
        (
            ProductImage.objects.filter(product_id__in=product_ids)
            .exclude(pk__in=list(image_pk.values()))
            .exclude(origin=ImageOrigin.WEARVIEW, created_at__gt=fetched_at)
            .delete()
        )
        result.images_to_copy = [
            image.pk
            for image in images
            if image.url and previous.get(image.shopify_media_id) != image.url
        ]

        # 5. Which images show which variants.
        through = ProductImage.variants.through
        through.objects.filter(productimage_id__in=list(image_pk.values())).delete()
        links = [
            through(productimage_id=image_pk[media_id], variant_id=variant_pk[v.shopify_id])
            for r in fresh.values()
            for v in r.variants
            for media_id in v.media_ids
            if media_id in image_pk
        ]
        through.objects.bulk_create(links, batch_size=INSERT_BATCH, ignore_conflicts=True)

        result.product_ids = product_ids
        _send_on_commit(products_synced, shop, product_ids, cause)
    return result


def products_mark_deleted(
    *,
    shop: Shop,
    shopify_ids: Collection[str] | None = None,
    not_synced_since: datetime | None = None,
    cause: str,
) -> list[int]:
    """Mark products deleted on Shopify, by id or because a full sync did not see them.

    Rows are kept (jobs and publications refer to them) with `deleted_at` set, and
    `products_deleted` is sent after commit. Returns the ids of the products marked.

    Raises:
        ValueError: neither `shopify_ids` nor `not_synced_since` was given.
    """
    if shopify_ids is None and not_synced_since is None:
        raise ValueError("products_mark_deleted needs shopify_ids or not_synced_since.")
    query = Product.objects.filter(shop=shop, deleted_at__isnull=True)
    if shopify_ids is not None:
        query = query.filter(shopify_id__in=list(shopify_ids))
    if not_synced_since is not None:
        query = query.exclude(synced_at__gte=not_synced_since)
    with transaction.atomic():
        ids = list(query.values_list("pk", flat=True))
        if ids:
            Product.objects.filter(pk__in=ids).update(deleted_at=timezone.now())
            _send_on_commit(products_deleted, shop, ids, cause)
    if ids:
        logger.info("Shop %s: %s products marked deleted (%s)", shop.domain, len(ids), cause)
    return ids


def product_image_record_publish(
    *,
    product: Product,
    shopify_media_id: str,
    variant_ids: Collection[int],
    alt: str,
    stored_name: str = "",
    content_hash: str = "",
) -> ProductImage:
    """Create (or return) the row of an image WearView published, with origin WEARVIEW.

    Written as soon as Shopify returns the media id, so the `products/update` webhook that the
    attach causes finds the product already covered and starts no new generation.
    """
    with transaction.atomic():
        image, created = ProductImage.objects.get_or_create(
            shop_id=product.shop_id,
            shopify_media_id=shopify_media_id,
            defaults={
                "product": product,
                "alt": alt,
                "origin": ImageOrigin.WEARVIEW,
                "position": 10_000,
                "stored": stored_name,
                "content_hash": content_hash,
                "media_status": "UPLOADED",
            },
        )
        if not created and image.origin != ImageOrigin.WEARVIEW:
            image.origin = ImageOrigin.WEARVIEW
            image.save(update_fields=["origin", "updated_at"])
        if variant_ids:
            image.variants.add(*variant_ids)
        _send_on_commit(products_synced, product.shop, [product.pk], "publish")
    return image

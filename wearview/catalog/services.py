"""Writes to the catalog: upserts of products with their variants and images, and deletions.

The Shopify sync hands over plain records (`ProductRecord` and its parts); nothing here talks
to Shopify. `products_upsert` stores a page of products with a fixed number of SQL statements
whatever the page holds, and sends `products_synced` after the transaction commits.
"""

import logging
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from django.db import connection, transaction
from django.utils import timezone

from wearview.catalog.models import ImageOrigin, Product, ProductImage, Shop, Variant
from wearview.catalog.signals import products_deleted, products_synced

logger = logging.getLogger(__name__)

# Rows per INSERT statement. SQLite limits the parameters of one statement, so Django splits a
# larger batch anyway; choosing the split here keeps the statement count predictable.
# Parameters per SELECT ... IN (...) statement; below the limits of SQLite and PostgreSQL.
IN_CHUNK = 500


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


def _send_on_commit(signal, shop: Shop, product_ids: list[int], cause: str) -> None:
    if not product_ids:
        return
    transaction.on_commit(
        lambda: signal.send(
            sender=Product, shop_id=shop.pk, product_ids=list(product_ids), cause=cause
        )
    )


def _chunks(values: Sequence, size: int = IN_CHUNK) -> Iterator[Sequence]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def _upsert_sql(
    table: str, columns: Sequence[str], conflict: Sequence[str], update: Sequence[str]
) -> str:
    updates = ", ".join(f"{column} = excluded.{column}" for column in update)
    return (
        f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({_placeholders(len(columns))}) "
        f"ON CONFLICT ({', '.join(conflict)}) DO UPDATE SET {updates}"
    )


PRODUCT_COLUMNS = [
    "shop_id",
    "shopify_id",
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
    "created_at",
]
PRODUCT_UPSERT = _upsert_sql(
    "catalog_product", PRODUCT_COLUMNS, ["shop_id", "shopify_id"], PRODUCT_COLUMNS[2:-1]
)
VARIANT_COLUMNS = [
    "shop_id",
    "shopify_id",
    "product_id",
    "sku",
    "title",
    "selected_options",
    "position",
    "sellable",
]
VARIANT_UPSERT = _upsert_sql(
    "catalog_variant", VARIANT_COLUMNS, ["shop_id", "shopify_id"], VARIANT_COLUMNS[2:]
)
IMAGE_COLUMNS = [
    "shop_id",
    "shopify_media_id",
    "product_id",
    "url",
    "alt",
    "position",
    "width",
    "height",
    "media_status",
    "updated_at",
    "origin",
    "stored",
    "content_hash",
    "stored_from_url",
    "error_code",
    "error_message",
    "created_at",
]
# An existing image keeps its origin and its stored copy. Its url shows whether the copy is
# still current.
IMAGE_UPSERT = _upsert_sql(
    "catalog_productimage", IMAGE_COLUMNS, ["shop_id", "shopify_media_id"], IMAGE_COLUMNS[2:10]
)
LINK_INSERT = (
    "INSERT INTO catalog_productimage_variants (productimage_id, variant_id) VALUES (%s, %s)"
)


class _Writer:
    """Adapts Python values to the connection's database types without building model
    instances: the ORM's per-object work would cost more than the SQL itself on large syncs."""

    def __init__(self) -> None:
        self.cursor = connection.cursor()
        self._json = Product._meta.get_field("tags")
        self._adapt_datetime = connection.ops.adapt_datetimefield_value

    def json(self, value: object) -> object:
        return self._json.get_db_prep_save(value, connection)

    def datetime(self, value: datetime | None) -> object:
        return None if value is None else self._adapt_datetime(value)

    def ids(self, table: str, key: str, shop: Shop, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for chunk in _chunks(list(keys)):
            self.cursor.execute(
                f"SELECT {key}, id FROM {table} WHERE shop_id = %s AND {key} IN "
                f"({_placeholders(len(chunk))})",
                [shop.pk, *chunk],
            )
            found.update(self.cursor.fetchall())
        return found

    def children(self, table: str, key: str, product_ids: Sequence[int]) -> list[tuple]:
        rows: list[tuple] = []
        for chunk in _chunks(list(product_ids)):
            self.cursor.execute(
                f"SELECT id, {key} FROM {table} WHERE product_id IN ({_placeholders(len(chunk))})",
                list(chunk),
            )
            rows.extend(self.cursor.fetchall())
        return rows


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

    The number of SQL statements does not grow with the number of records, except that id
    lookups are split every IN_CHUNK keys.

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
        writer = _Writer()
        cursor = writer.cursor

        # 1. Skip records older than what is stored.
        stored: dict[str, datetime | None] = {}
        for chunk in _chunks([r.shopify_id for r in records]):
            stored.update(
                Product.objects.filter(shop=shop, shopify_id__in=chunk).values_list(
                    "shopify_id", "shopify_updated_at"
                )
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
        now_db = writer.datetime(now)
        cursor.executemany(
            PRODUCT_UPSERT,
            [
                (
                    shop.pk,
                    r.shopify_id,
                    r.handle,
                    r.title,
                    r.body_html,
                    r.vendor,
                    r.product_type,
                    writer.json(r.tags),
                    r.status,
                    writer.datetime(r.updated_at),
                    None,
                    now_db,
                    now_db,
                )
                for r in fresh.values()
            ],
        )
        product_pk = writer.ids("catalog_product", "shopify_id", shop, list(fresh))
        product_ids = list(product_pk.values())

        # 3. Variants, and removal of those the products no longer have.
        variant_rows = [
            (
                shop.pk,
                v.shopify_id,
                product_pk[r.shopify_id],
                v.sku,
                v.title,
                writer.json(v.selected_options),
                v.position,
                v.sellable,
            )
            for r in fresh.values()
            for v in r.variants
        ]
        cursor.executemany(VARIANT_UPSERT, variant_rows)
        seen_variants = {row[1] for row in variant_rows}
        existing_variants = writer.children("catalog_variant", "shopify_id", product_ids)
        variant_pk = {gid: pk for pk, gid in existing_variants if gid in seen_variants}
        stale_variants = [pk for pk, gid in existing_variants if gid not in seen_variants]
        if stale_variants:
            Variant.objects.filter(pk__in=stale_variants).delete()

        # 4. Images. An image whose url differs from the one its copy came from needs a new copy.
        media_ids = [i.shopify_media_id for r in fresh.values() for i in r.images]
        previous: dict[str, str] = {}
        for chunk in _chunks(media_ids):
            cursor.execute(
                "SELECT shopify_media_id, stored_from_url FROM catalog_productimage "
                f"WHERE shop_id = %s AND shopify_media_id IN ({_placeholders(len(chunk))})",
                [shop.pk, *chunk],
            )
            previous.update(cursor.fetchall())
        wearview = set(wearview_media_ids)
        cursor.executemany(
            IMAGE_UPSERT,
            [
                (
                    shop.pk,
                    i.shopify_media_id,
                    product_pk[r.shopify_id],
                    i.url,
                    i.alt,
                    i.position,
                    i.width,
                    i.height,
                    i.media_status,
                    now_db,
                    ImageOrigin.WEARVIEW
                    if i.shopify_media_id in wearview
                    else ImageOrigin.MERCHANT,
                    "",
                    "",
                    "",
                    "",
                    "",
                    now_db,
                )
                for r in fresh.values()
                for i in r.images
            ],
        )
        seen_media = set(media_ids)
        existing_images = writer.children("catalog_productimage", "shopify_media_id", product_ids)
        image_pk = {gid: pk for pk, gid in existing_images if gid in seen_media}
        stale_images = [pk for pk, gid in existing_images if gid not in seen_media]
        if stale_images:
            (
                ProductImage.objects.filter(pk__in=stale_images)
                .exclude(origin=ImageOrigin.WEARVIEW, created_at__gt=fetched_at)
                .delete()
            )
        if wearview:
            # An image first stored as the merchant's (a sync that ran during a publish) is
            # claimed by the publication that created it.
            ProductImage.objects.filter(
                shop=shop, shopify_media_id__in=wearview & set(image_pk)
            ).exclude(origin=ImageOrigin.WEARVIEW).update(origin=ImageOrigin.WEARVIEW)
        result.images_to_copy = [
            image_pk[i.shopify_media_id]
            for r in fresh.values()
            for i in r.images
            if i.url and previous.get(i.shopify_media_id) != i.url
        ]

        # 5. Which images show which variants.
        image_ids = list(image_pk.values())
        for chunk in _chunks(image_ids):
            cursor.execute(
                "DELETE FROM catalog_productimage_variants WHERE productimage_id IN "
                f"({_placeholders(len(chunk))})",
                list(chunk),
            )
        links = {
            (image_pk[media_id], variant_pk[v.shopify_id])
            for r in fresh.values()
            for v in r.variants
            for media_id in v.media_ids
            if media_id in image_pk
        }
        if links:
            cursor.executemany(LINK_INSERT, sorted(links))

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

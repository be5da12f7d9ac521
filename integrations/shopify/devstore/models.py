"""In-memory catalog of a dev store shop: products, variants, media, files and jobs."""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

API_VERSION = "2026-10"

# Shopify ids are unique across all shops, so one counter per resource type serves every shop.
_id_counters: dict[str, itertools.count] = {}
_id_lock = threading.Lock()


def next_id(resource: str) -> int:
    """Return the next numeric id for a resource type, unique within this process."""
    with _id_lock:
        counter = _id_counters.setdefault(resource, itertools.count(1_000_001))
        return next(counter)


def gid(resource: str, number: int) -> str:
    return f"gid://shopify/{resource}/{number}"


def parse_gid(value: str, resource: str | None = None) -> tuple[str, int] | None:
    """Split `gid://shopify/Type/123` into its type and number, or return None if malformed."""
    prefix = "gid://shopify/"
    if not isinstance(value, str) or not value.startswith(prefix):
        return None
    parts = value[len(prefix) :].split("/")
    if len(parts) != 2 or not parts[1].isdigit():
        return None
    if resource is not None and parts[0] != resource:
        return None
    return parts[0], int(parts[1])


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def iso(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Variant:
    id: int
    product_id: int
    title: str
    sku: str
    price: str
    position: int
    options: list[str]
    barcode: str = ""
    compare_at_price: str | None = None
    inventory_quantity: int = 0
    inventory_policy: str = "DENY"
    taxable: bool = True
    media_ids: list[int] = field(default_factory=list)
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)

    TYPENAME = "ProductVariant"

    @property
    def gid(self) -> str:
        return gid("ProductVariant", self.id)


@dataclass
class MediaImage:
    """One image file; it is product media while `product_ids` is not empty."""

    id: int
    shop_domain: str
    filename: str
    alt: str = ""
    status: str = "UPLOADED"
    original_source: str = ""
    content: bytes | None = None
    # Seeded images stay on disk and are read when requested.
    source_path: Path | None = None
    mime_type: str | None = None
    width: int | None = None
    height: int | None = None
    errors: list[dict] = field(default_factory=list)
    product_ids: list[int] = field(default_factory=list)
    image_id: int = field(default_factory=lambda: next_id("ProductImage"))
    version: int = 1
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    # Set by the fault switch that makes a file fail after it has been processed.
    fail_after_processing: bool = False

    TYPENAME = "MediaImage"

    @property
    def gid(self) -> str:
        return gid("MediaImage", self.id)

    @property
    def file_size(self) -> int | None:
        if self.content is not None:
            return len(self.content)
        if self.source_path is not None:
            return self.source_path.stat().st_size
        return None

    def read_content(self) -> bytes | None:
        if self.content is not None:
            return self.content
        if self.source_path is not None:
            return self.source_path.read_bytes()
        return None


@dataclass
class Product:
    id: int
    shop_domain: str
    handle: str
    title: str
    body_html: str = ""
    vendor: str = ""
    product_type: str = ""
    tags: list[str] = field(default_factory=list)
    status: str = "ACTIVE"
    option_names: list[str] = field(default_factory=list)
    variants: list[Variant] = field(default_factory=list)
    media_ids: list[int] = field(default_factory=list)
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)
    published_at: datetime | None = field(default_factory=utc_now)

    TYPENAME = "Product"

    @property
    def gid(self) -> str:
        return gid("Product", self.id)


@dataclass
class StagedUpload:
    key: str
    shop_domain: str
    filename: str
    mime_type: str
    resource: str
    http_method: str
    declared_size: int | None
    content: bytes | None = None


@dataclass
class BulkOperation:
    id: int
    shop_domain: str
    query: str
    status: str = "CREATED"
    error_code: str | None = None
    object_count: int = 0
    root_object_count: int = 0
    file_size: int | None = None
    url: str | None = None
    result: bytes | None = None
    created_at: datetime = field(default_factory=utc_now)
    completed_at: datetime | None = None
    type: str = "QUERY"

    TYPENAME = "BulkOperation"

    @property
    def gid(self) -> str:
        return gid("BulkOperation", self.id)


@dataclass
class WebhookSubscription:
    id: int
    topic: str
    uri: str
    format: str = "JSON"
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)

    TYPENAME = "WebhookSubscription"

    @property
    def gid(self) -> str:
        return gid("WebhookSubscription", self.id)


@dataclass
class Shop:
    domain: str
    name: str
    plan: str
    id: int = field(default_factory=lambda: next_id("Shop"))
    email: str = ""
    currency_code: str = "USD"
    products: dict[int, Product] = field(default_factory=dict)
    files: dict[int, MediaImage] = field(default_factory=dict)
    staged: dict[str, StagedUpload] = field(default_factory=dict)
    bulk_operations: dict[int, BulkOperation] = field(default_factory=dict)
    subscriptions: dict[int, WebhookSubscription] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utc_now)

    TYPENAME = "Shop"

    @property
    def gid(self) -> str:
        return gid("Shop", self.id)

    def product_media(self, product: Product) -> list[MediaImage]:
        return [self.files[media_id] for media_id in product.media_ids if media_id in self.files]

    def variant_by_id(self, variant_id: int) -> Variant | None:
        for product in self.products.values():
            for variant in product.variants:
                if variant.id == variant_id:
                    return variant
        return None

    def current_bulk_operation(self) -> BulkOperation | None:
        if not self.bulk_operations:
            return None
        return self.bulk_operations[max(self.bulk_operations)]

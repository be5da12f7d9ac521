"""Signed webhook deliveries from the dev store to the app, in a background thread."""

from __future__ import annotations

import heapq
import itertools
import json
import logging
import threading
import time
import uuid
from dataclasses import dataclass, field

import requests

from .auth import sign_webhook_body
from .faults import FaultPlan
from .models import API_VERSION, iso, utc_now

logger = logging.getLogger(__name__)

# Rails' JSON encoder, which Shopify's payloads come from, escapes these so the body is safe
# inside HTML and JavaScript. The raw bytes, and so the HMAC, depend on it.
_RAILS_ESCAPES = {
    "&": "\\u0026",
    "<": "\\u003c",
    ">": "\\u003e",
    "\u2028": "\\u2028",
    "\u2029": "\\u2029",
}


def encode_payload(payload: dict) -> bytes:
    """Serialize a webhook payload the way Shopify does: UTF-8, HTML characters escaped."""
    text = json.dumps(payload, ensure_ascii=False, separators=(",", ":"))
    for character, escaped in _RAILS_ESCAPES.items():
        text = text.replace(character, escaped)
    return text.encode("utf-8")


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    topic: str
    shop: str
    url: str
    body: bytes
    triggered_at: str
    attempts: int = 0

    def headers(self, secret: str) -> dict[str, str]:
        return {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Topic": self.topic,
            "X-Shopify-Hmac-Sha256": sign_webhook_body(secret, self.body),
            "X-Shopify-Shop-Domain": self.shop,
            "X-Shopify-API-Version": API_VERSION,
            "X-Shopify-Webhook-Id": self.webhook_id,
            "X-Shopify-Event-Id": self.event_id,
            "X-Shopify-Triggered-At": self.triggered_at,
        }


@dataclass
class DeliveryAttempt:
    """One POST of a webhook to the app, kept so tests can inspect what was sent."""

    webhook_id: str
    event_id: str
    topic: str
    shop: str
    url: str
    attempt: int
    headers: dict[str, str]
    body: bytes
    status: int | None
    error: str | None
    sent_at: float
    duration: float
    ok: bool = field(default=False)

    @property
    def payload(self) -> dict:
        return json.loads(self.body)


class WebhookDispatcher:
    """Queue of deliveries sent in due-time order by one thread, with retries and faults."""

    def __init__(
        self,
        secret: str,
        faults: FaultPlan,
        timeout: float = 5.0,
        max_attempts: int = 3,
        retry_delay: float = 0.2,
    ) -> None:
        self._secret = secret
        self._faults = faults
        self.timeout = timeout
        self.max_attempts = max_attempts
        self.retry_delay = retry_delay
        self.attempts: list[DeliveryAttempt] = []
        self._queue: list[tuple[float, int, Delivery]] = []
        self._reorder_buffer: list[Delivery] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._in_flight = 0
        self._stopping = False
        self._thread: threading.Thread | None = None
        self._session = requests.Session()

    # --- producing ----------------------------------------------------------------------------

    def send(
        self,
        shop: str,
        topic: str,
        urls: list[str],
        payload: dict | None = None,
        body: bytes | None = None,
        event_id: str | None = None,
    ) -> list[Delivery]:
        """Queue one event for every URL; `body` sends raw bytes instead of `payload`."""
        raw = body if body is not None else encode_payload(payload or {})
        event = event_id or str(uuid.uuid4())
        triggered_at = utc_now().isoformat().replace("+00:00", "Z")
        deliveries = [
            Delivery(str(uuid.uuid4()), event, topic, shop, url, raw, triggered_at) for url in urls
        ]
        faults = self._faults.faults
        with self._condition:
            for delivery in deliveries:
                duplicated = self._faults.draw(faults.webhook_duplicate_rate)
                copies = faults.webhook_duplicate_copies if duplicated else 1
                for _ in range(copies):
                    copy = Delivery(**{**delivery.__dict__})
                    if faults.webhook_reorder_window > 1:
                        self._reorder_buffer.append(copy)
                        if len(self._reorder_buffer) >= faults.webhook_reorder_window:
                            self._release_reorder_buffer()
                    else:
                        self._push(copy, time.monotonic() + faults.webhook_delay_seconds)
            self._condition.notify_all()
        return deliveries

    def _release_reorder_buffer(self) -> None:
        delay = self._faults.faults.webhook_delay_seconds
        for delivery in self._faults.shuffle(self._reorder_buffer):
            self._push(delivery, time.monotonic() + delay)
        self._reorder_buffer = []

    def _push(self, delivery: Delivery, due: float) -> None:
        heapq.heappush(self._queue, (due, next(self._order), delivery))

    def flush(self) -> None:
        """Send deliveries still held back by the reorder switch."""
        with self._condition:
            if self._reorder_buffer:
                self._release_reorder_buffer()
                self._condition.notify_all()

    # --- consuming ----------------------------------------------------------------------------

    def start(self) -> None:
        if self._thread is not None:
            return
        self._stopping = False
        self._thread = threading.Thread(target=self._run, name="devstore-webhooks", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=self.timeout + 1)
            self._thread = None
        self._session.close()

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Flush held deliveries and wait until nothing is queued or in flight."""
        self.flush()
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._in_flight:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else 0.5
                    self._condition.wait(max(0.001, min(wait, 0.5)))
                if self._stopping:
                    return
                _, _, delivery = heapq.heappop(self._queue)
                self._in_flight += 1
            try:
                self._attempt(delivery)
            finally:
                with self._condition:
                    self._in_flight -= 1
                    self._condition.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        delivery.attempts += 1
        headers = delivery.headers(self._secret)
        started = time.monotonic()
        status: int | None = None
        error: str | None = None
        try:
            response = self._session.post(
                delivery.url, data=delivery.body, headers=headers, timeout=self.timeout
            )
            status = response.status_code
        except requests.RequestException as exc:
            error = f"{type(exc).__name__}: {exc}"
        ok = status is not None and 200 <= status < 300
        attempt = DeliveryAttempt(
            webhook_id=delivery.webhook_id,
            event_id=delivery.event_id,
            topic=delivery.topic,
            shop=delivery.shop,
            url=delivery.url,
            attempt=delivery.attempts,
            headers=headers,
            body=delivery.body,
            status=status,
            error=error,
            sent_at=time.time(),
            duration=time.monotonic() - started,
            ok=ok,
        )
        with self._condition:
            self.attempts.append(attempt)
        if ok:
            return
        if delivery.attempts < self.max_attempts:
            logger.warning(
                "Webhook %s %s to %s failed (status %s, %s); retry %d of %d",
                delivery.topic,
                delivery.webhook_id,
                delivery.url,
                status,
                error,
                delivery.attempts,
                self.max_attempts - 1,
            )
            with self._condition:
                self._push(delivery, time.monotonic() + self.retry_delay * delivery.attempts)
        else:
            logger.error(
                "Webhook %s %s to %s failed after %d attempts (status %s, %s)",
                delivery.topic,
                delivery.webhook_id,
                delivery.url,
                delivery.attempts,
                status,
                error,
            )


def product_payload(shop, product, base_url: str) -> dict:
    """Build a product webhook payload in the shape of Shopify's REST Product resource."""
    media = shop.product_media(product)
    variant_ids_by_media: dict[int, list[int]] = {}
    for variant in product.variants:
        for media_id in variant.media_ids:
            variant_ids_by_media.setdefault(media_id, []).append(variant.id)
    images, media_items = _image_payloads(product, media, variant_ids_by_media, base_url)

    return {
        "id": product.id,
        "admin_graphql_api_id": product.gid,
        "title": product.title,
        "body_html": product.body_html,
        "vendor": product.vendor,
        "product_type": product.product_type,
        "handle": product.handle,
        "created_at": iso(product.created_at),
        "updated_at": iso(product.updated_at),
        "published_at": iso(product.published_at),
        "template_suffix": None,
        "published_scope": "global",
        "tags": ", ".join(product.tags),
        "status": product.status.lower(),
        "variants": _variant_payloads(shop, product),
        "options": _option_payloads(product),
        "images": images,
        "image": images[0] if images else None,
        "media": media_items,
        "variant_gids": [
            {"admin_graphql_api_id": v.gid, "updated_at": iso(v.updated_at)}
            for v in product.variants
        ],
        "has_variants_that_requires_components": False,
        "category": None,
    }


def _image_payloads(
    product, media: list, variant_ids_by_media: dict[int, list[int]], base_url: str
) -> tuple[list[dict], list[dict]]:
    """Build the `images` entries (READY media only) and the `media` entries of a product."""
    images = []
    media_items = []
    for position, item in enumerate(media, start=1):
        src = cdn_url(base_url, item)
        variant_ids = variant_ids_by_media.get(item.id, [])
        if item.status == "READY":
            images.append(
                {
                    "id": item.image_id,
                    "admin_graphql_api_id": f"gid://shopify/ProductImage/{item.image_id}",
                    "product_id": product.id,
                    "position": position,
                    "created_at": iso(item.created_at),
                    "updated_at": iso(item.updated_at),
                    "alt": item.alt or None,
                    "width": item.width,
                    "height": item.height,
                    "src": src,
                    "variant_ids": variant_ids,
                }
            )
        media_items.append(
            {
                "id": item.id,
                "admin_graphql_api_id": item.gid,
                "product_id": product.id,
                "position": position,
                "created_at": iso(item.created_at),
                "updated_at": iso(item.updated_at),
                "alt": item.alt or None,
                "status": item.status,
                "media_content_type": "IMAGE",
                "preview_image": {
                    "width": item.width,
                    "height": item.height,
                    "src": src if item.status == "READY" else None,
                    "status": item.status,
                },
                "variant_ids": variant_ids,
            }
        )
    return images, media_items


def _variant_payloads(shop, product) -> list[dict]:
    variants = []
    for variant in product.variants:
        image_id = None
        for media_id in variant.media_ids:
            media_item = shop.files.get(media_id)
            if media_item is not None:
                image_id = media_item.image_id
                break
        options = variant.options + [None] * (3 - len(variant.options))
        variants.append(
            {
                "id": variant.id,
                "admin_graphql_api_id": variant.gid,
                "product_id": product.id,
                "title": variant.title,
                "price": variant.price,
                "sku": variant.sku,
                "position": variant.position,
                "inventory_policy": variant.inventory_policy.lower(),
                "compare_at_price": variant.compare_at_price,
                "option1": options[0],
                "option2": options[1],
                "option3": options[2],
                "created_at": iso(variant.created_at),
                "updated_at": iso(variant.updated_at),
                "taxable": variant.taxable,
                "barcode": variant.barcode or None,
                "inventory_quantity": variant.inventory_quantity,
                "image_id": image_id,
            }
        )
    return variants


def _option_payloads(product) -> list[dict]:
    return [
        {
            "id": product.id * 10 + index,
            "product_id": product.id,
            "name": name,
            "position": index,
            "values": _unique(
                [v.options[index - 1] for v in product.variants if len(v.options) >= index]
            ),
        }
        for index, name in enumerate(product.option_names, start=1)
    ]


def _unique(values: list[str]) -> list[str]:
    return list(dict.fromkeys(values))


def cdn_url(base_url: str, media) -> str:
    """URL the dev store serves a media file from, like Shopify's CDN file URLs."""
    return f"{base_url}/cdn/shop/files/{media.id}/{media.filename}?v={media.version}"

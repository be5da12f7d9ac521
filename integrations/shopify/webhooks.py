"""The webhook endpoint: verify the signature, record the delivery, enqueue the work, respond.

Shopify waits five seconds for a response and retries deliveries that got no 2xx response. So
the view only checks the signature and records the delivery, and a Celery task does the rest
after the transaction commits.
"""

import base64
import hashlib
import hmac
import json
import logging

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import WebhookVerificationError
from integrations.shopify.services import webhook_delivery_record

logger = logging.getLogger(__name__)


def webhook_signature(body: bytes, secret: str) -> str:
    """Compute X-Shopify-Hmac-Sha256 of a raw body: base64 of HMAC-SHA256 with the app secret."""
    digest = hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_webhook_signature(body: bytes, received: str | None, secret: str) -> None:
    """Check the signature over the raw bytes in constant time.

    The body is never decoded and re-encoded first: Shopify signs the exact bytes it sent,
    escapes such as `\\u0026` and `\\/` included.

    Raises:
        WebhookVerificationError: the header is missing or does not match.
    """
    if not received:
        raise WebhookVerificationError("X-Shopify-Hmac-Sha256 header is missing.")
    expected = webhook_signature(body, secret)
    if not hmac.compare_digest(expected.encode("ascii"), received.strip().encode("utf-8")):
        raise WebhookVerificationError("X-Shopify-Hmac-Sha256 does not match the body.")


def _text(status: int, text: str) -> HttpResponse:
    return HttpResponse(text, status=status, content_type="text/plain")


@csrf_exempt
@require_POST
def webhook_view(request: HttpRequest) -> HttpResponse:
    """Receive a Shopify webhook: 401 without a valid signature, 200 once recorded."""
    # Checked before the body is read, so an oversized body is never loaded into memory.
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
        logger.warning("Webhook rejected: body of %s bytes is too large", length)
        return _text(413, "Payload too large")
    try:
        body = request.body
    except RequestDataTooBig:
        logger.warning("Webhook rejected: body larger than DATA_UPLOAD_MAX_MEMORY_SIZE")
        return _text(413, "Payload too large")
    try:
        verify_webhook_signature(
            body, request.headers.get("X-Shopify-Hmac-Sha256"), settings.SHOPIFY_API_SECRET
        )
    except WebhookVerificationError as exc:
        logger.warning(
            "Webhook rejected (%s) topic=%s shop=%r",
            exc,
            request.headers.get("X-Shopify-Topic", ""),
            request.headers.get("X-Shopify-Shop-Domain", ""),
        )
        return _text(401, "Unauthorized")

    topic = request.headers.get("X-Shopify-Topic", "")
    webhook_id = request.headers.get("X-Shopify-Webhook-Id", "")
    try:
        shop_domain = normalize_shop_domain(request.headers.get("X-Shopify-Shop-Domain"))
    except InvalidShopDomain as exc:
        logger.warning("Webhook %s rejected: %s", webhook_id, exc)
        return _text(400, "Invalid X-Shopify-Shop-Domain")
    if not topic or not webhook_id:
        logger.warning("Webhook for shop %s without topic or webhook id rejected", shop_domain)
        return _text(400, "Missing X-Shopify-Topic or X-Shopify-Webhook-Id")
    try:
        # NaN and Infinity are not JSON and no database stores them in a JSON column; Shopify
        # never sends them, so they are read as null.
        payload = json.loads(body, parse_constant=lambda name: None)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        logger.warning(
            "Webhook %s for shop %s has a body that is not JSON", webhook_id, shop_domain
        )
        return _text(400, "Body is not JSON")
    if not isinstance(payload, dict):
        return _text(400, "Body is not a JSON object")

    delivery_id = webhook_delivery_record(
        topic=topic,
        shop_domain=shop_domain,
        webhook_id=webhook_id,
        event_id=request.headers.get("X-Shopify-Event-Id", ""),
        api_version=request.headers.get("X-Shopify-API-Version", ""),
        triggered_at=request.headers.get("X-Shopify-Triggered-At", ""),
        payload=payload,
    )
    if delivery_id is None:
        logger.info(
            "Webhook %s %s for shop %s is a redelivery; skipped", webhook_id, topic, shop_domain
        )
        return _text(200, "OK")
    from integrations.shopify.tasks import process_webhook_task

    # Enqueued once the row is committed, so the worker that takes the task finds it. Outside
    # a transaction that is at once. If the broker is down, the request fails and Shopify sends
    # it again: the stored row makes that a duplicate, and the beat's sweep enqueues the row.
    transaction.on_commit(lambda: process_webhook_task.delay(delivery_id))
    return _text(200, "OK")

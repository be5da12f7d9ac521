"""Business rules of the Shopify integration: what happens after an install, when a webhook
arrives, when a shop leaves, and when a candidate is sent to Shopify."""

import logging
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connections, router, transaction
from django.utils import timezone
from django.utils.dateparse import parse_datetime

from integrations.shopify.client import ShopifyClient
from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import ShopNotConnected
from integrations.shopify.models import (
    PublicationProgress,
    SyncRun,
    SyncStatus,
    WebhookDelivery,
    WebhookDeliveryStatus,
)
from integrations.shopify.sync import (
    product_is_newer_than_stored,
    product_sync_one,
    shop_sync_bulk_finish,
)
from wearview.catalog.models import ProductImage, Shop
from wearview.catalog.services import products_mark_deleted
from wearview.errors import TransientError
from wearview.studio.models import (
    OPEN_STATES,
    Candidate,
    GenerationJob,
    JobState,
    Publication,
    PublicationStatus,
)
from wearview.studio.services import job_transition

logger = logging.getLogger(__name__)

# Topics the app subscribes to after an authorization-code install. A managed install
# declares the same list in the app's configuration on Shopify.
WEBHOOK_TOPICS = (
    "PRODUCTS_CREATE",
    "PRODUCTS_UPDATE",
    "PRODUCTS_DELETE",
    "APP_UNINSTALLED",
    "APP_SCOPES_UPDATE",
    "BULK_OPERATIONS_FINISH",
)


class PublishInFlight(TransientError):
    """A product webhook arrived while a publish of the product waits for its media id."""

    code = "publish_in_flight"


# --- install -----------------------------------------------------------------------------------


def webhook_address() -> str:
    return f"{settings.WEARVIEW_APP_URL.rstrip('/')}/shopify/webhooks"


def shop_register_webhooks(*, shop: Shop, client: ShopifyClient | None = None) -> list[str]:
    """Subscribe the shop's webhooks to this service's endpoint; returns the subscription ids."""
    client = client or ShopifyClient(shop)
    ids = []
    for topic in WEBHOOK_TOPICS:
        payload = client.execute_mutation(
            "webhook_subscription_create",
            "webhookSubscriptionCreate",
            {"topic": topic, "webhookSubscription": {"uri": webhook_address(), "format": "JSON"}},
        )
        ids.append(payload["webhookSubscription"]["id"])
    logger.info("Shop %s subscribed to %s webhook topics", shop.domain, len(ids))
    return ids


# --- webhooks ----------------------------------------------------------------------------------


def _header_datetime(value: str) -> datetime | None:
    """Parse X-Shopify-Triggered-At, returning None for a missing or malformed value.

    The value only orders deliveries, so a bad one must not cost the delivery itself.
    """
    try:
        return parse_datetime(value) if value else None
    except ValueError:
        return None


def webhook_delivery_record(
    *,
    topic: str,
    shop_domain: str,
    webhook_id: str,
    event_id: str,
    api_version: str,
    triggered_at: str,
    payload: dict,
) -> int | None:
    """Record an accepted delivery and return its id, or None for a redelivery of a known
    webhook id.

    It is one statement, `INSERT ... ON CONFLICT (webhook_id) DO NOTHING RETURNING id`, run in
    autocommit mode: a single round trip to the database and no transaction to open or close,
    because the endpoint must respond quickly. Django's `bulk_create(ignore_conflicts=True)`
    writes the same statement but returns no id. PostgreSQL and SQLite (3.35 and later) both
    accept it. Nothing else is read here, and the shop and duplicate event ids are resolved
    when the delivery is processed.
    """
    delivery = WebhookDelivery(
        shop_domain=shop_domain,
        topic=topic,
        webhook_id=webhook_id,
        event_id=event_id,
        api_version=api_version,
        triggered_at=_header_datetime(triggered_at),
        payload=payload,
    )
    meta = WebhookDelivery._meta
    connection = connections[router.db_for_write(WebhookDelivery)]
    quote = connection.ops.quote_name
    # Every column but the id, with the model's defaults and received_at's auto_now_add.
    fields = [field for field in meta.concrete_fields if not field.primary_key]
    params = [
        field.get_db_prep_save(field.pre_save(delivery, add=True), connection) for field in fields
    ]
    sql = (
        "INSERT INTO {table} ({columns}) VALUES ({values}) "
        "ON CONFLICT ({key}) DO NOTHING RETURNING {pk}"
    ).format(
        table=quote(meta.db_table),
        columns=", ".join(quote(field.column) for field in fields),
        values=", ".join(["%s"] * len(fields)),
        key=quote(meta.get_field("webhook_id").column),
        pk=quote(meta.pk.column),
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return row[0] if row else None


def _finish_delivery(delivery: WebhookDelivery, status: str, message: str = "") -> None:
    delivery.status = status
    delivery.error_message = message[:2000]
    delivery.processed_at = timezone.now()
    delivery.save(update_fields=["status", "error_message", "processed_at"])


def _product_gid(payload: Mapping) -> str:
    gid = payload.get("admin_graphql_api_id")
    if gid:
        return str(gid)
    return f"gid://shopify/Product/{payload['id']}"


def _installed_shop(delivery: WebhookDelivery) -> Shop | None:
    shop = Shop.objects.filter(domain=delivery.shop_domain).first()
    if shop is None or not shop.is_installed:
        return None
    return shop


def _publish_in_flight(shop: Shop, shopify_product_id: str) -> bool:
    return PublicationProgress.objects.filter(
        product__shop=shop,
        product__shopify_id=shopify_product_id,
        attach_requested_at__isnull=False,
        publication__shopify_media_id="",
        publication__status__in=[PublicationStatus.PENDING, PublicationStatus.STAGED],
    ).exists()


def _handle_product_change(delivery: WebhookDelivery) -> tuple[str, str]:
    shop = _installed_shop(delivery)
    if shop is None:
        return WebhookDeliveryStatus.SKIPPED, "shop not installed"
    gid = _product_gid(delivery.payload)
    updated_at: datetime | None = parse_datetime(delivery.payload.get("updated_at") or "")
    if not product_is_newer_than_stored(shop=shop, shopify_id=gid, updated_at=updated_at):
        return WebhookDeliveryStatus.SKIPPED, f"stored copy of {gid} is newer"
    if _publish_in_flight(shop, gid):
        # The attach of a publish caused this update. Waiting until the publish has stored the
        # media id makes the new media count as WearView's, so it starts no generation.
        raise PublishInFlight(
            f"Shop {shop.domain} product {gid} has a publish waiting for its media id."
        )
    product_sync_one(shop=shop, shopify_id=gid, cause="webhook")
    return WebhookDeliveryStatus.PROCESSED, ""


def _handle_product_delete(delivery: WebhookDelivery) -> tuple[str, str]:
    shop = Shop.objects.filter(domain=delivery.shop_domain).first()
    if shop is None:
        return WebhookDeliveryStatus.SKIPPED, "unknown shop"
    ids = products_mark_deleted(
        shop=shop, shopify_ids=[_product_gid(delivery.payload)], cause="webhook"
    )
    return WebhookDeliveryStatus.PROCESSED, f"{len(ids)} marked deleted"


def _handle_uninstalled(delivery: WebhookDelivery) -> tuple[str, str]:
    shop = Shop.objects.filter(domain=delivery.shop_domain).first()
    if shop is None:
        return WebhookDeliveryStatus.SKIPPED, "unknown shop"
    shop_uninstall(shop=shop)
    return WebhookDeliveryStatus.PROCESSED, ""


def _handle_scopes_update(delivery: WebhookDelivery) -> tuple[str, str]:
    current = delivery.payload.get("current")
    if not isinstance(current, list):
        return WebhookDeliveryStatus.FAILED, "payload has no list of current scopes"
    updated = Shop.objects.filter(domain=delivery.shop_domain).update(
        scopes=",".join(str(s) for s in current)
    )
    return WebhookDeliveryStatus.PROCESSED if updated else WebhookDeliveryStatus.SKIPPED, ""


def _handle_bulk_finish(delivery: WebhookDelivery) -> tuple[str, str]:
    operation_id = delivery.payload.get("admin_graphql_api_id", "")
    run = SyncRun.objects.filter(
        shop__domain=delivery.shop_domain,
        bulk_operation_id=operation_id,
        status=SyncStatus.RUNNING,
    ).first()
    if run is None:
        return WebhookDeliveryStatus.SKIPPED, f"no running sync waits for {operation_id}"
    run = shop_sync_bulk_finish(run_id=run.pk)
    return WebhookDeliveryStatus.PROCESSED, f"sync {run.pk} {run.status}"


def _handle_customer_topic(delivery: WebhookDelivery) -> tuple[str, str]:
    # WearView stores products and images only; it keeps no customer or order data, so there
    # is nothing to report or erase.
    return WebhookDeliveryStatus.PROCESSED, "no customer data stored"


def _handle_shop_redact(delivery: WebhookDelivery) -> tuple[str, str]:
    erased = shop_redact(shop_domain=delivery.shop_domain, keep_delivery_id=delivery.pk)
    return WebhookDeliveryStatus.PROCESSED, f"{erased} stored files erased"


HANDLERS = {
    "products/create": _handle_product_change,
    "products/update": _handle_product_change,
    "products/delete": _handle_product_delete,
    "app/uninstalled": _handle_uninstalled,
    "app/scopes_update": _handle_scopes_update,
    "bulk_operations/finish": _handle_bulk_finish,
    "customers/data_request": _handle_customer_topic,
    "customers/redact": _handle_customer_topic,
    "shop/redact": _handle_shop_redact,
}


def webhook_delivery_process(*, delivery_id: int) -> str:
    """Do the work of one recorded delivery and return its final status.

    A delivery already processed, or whose event id another delivery already processed, is
    skipped. A shop whose token is gone ends the delivery as skipped, not failed.

    Raises:
        TransientError: the work must be retried (Shopify unavailable, a publish in flight).
    """
    delivery = WebhookDelivery.objects.filter(pk=delivery_id).first()
    if delivery is None or delivery.status != WebhookDeliveryStatus.RECEIVED:
        return delivery.status if delivery else "missing"
    if delivery.shop_id is None:
        shop_id = Shop.objects.filter(domain=delivery.shop_domain).values_list("pk", flat=True)
        delivery.shop_id = shop_id.first()
        if delivery.shop_id is not None:
            delivery.save(update_fields=["shop"])
    # Shopify may send one event under several webhook ids. The earliest delivery of an event
    # does the work, and later ones with the same event id are skipped.
    if (
        delivery.event_id
        and WebhookDelivery.objects.filter(event_id=delivery.event_id, pk__lt=delivery.pk)
        .exclude(status=WebhookDeliveryStatus.FAILED)
        .exists()
    ):
        _finish_delivery(delivery, WebhookDeliveryStatus.SKIPPED, "duplicate event id")
        return WebhookDeliveryStatus.SKIPPED
    handler = HANDLERS.get(delivery.topic)
    if handler is None:
        _finish_delivery(delivery, WebhookDeliveryStatus.SKIPPED, "topic not handled")
        return WebhookDeliveryStatus.SKIPPED
    try:
        status, message = handler(delivery)
    except ShopNotConnected as exc:
        status, message = WebhookDeliveryStatus.SKIPPED, str(exc)
    if WebhookDelivery.objects.filter(pk=delivery.pk).exists():
        _finish_delivery(delivery, status, message)
    logger.info(
        "Webhook %s %s for shop %s: %s %s",
        delivery.webhook_id,
        delivery.topic,
        delivery.shop_domain,
        status,
        message,
    )
    return status


def webhook_deliveries_resume(*, older_than: timedelta, limit: int = 1000) -> int:
    """Send the processing task again for deliveries still `received` after `older_than`.

    The endpoint records a delivery before it enqueues its task, so a delivery that stays
    `received` lost its message. Processing is safe to repeat: a processed delivery is skipped.
    Returns how many were sent again.
    """
    from integrations.shopify.tasks import process_webhook_task

    cutoff = timezone.now() - older_than
    stalled = list(
        WebhookDelivery.objects.filter(
            status=WebhookDeliveryStatus.RECEIVED, received_at__lt=cutoff
        ).values_list("pk", flat=True)[:limit]
    )
    for delivery_id in stalled:
        process_webhook_task.delay(delivery_id)
    if stalled:
        logger.warning("%s webhook deliveries lost their task; processing them again", len(stalled))
    return len(stalled)


# --- leaving -----------------------------------------------------------------------------------


def shop_uninstall(*, shop: Shop, reason: str = "The app was uninstalled from the shop.") -> int:
    """Erase the shop's tokens and stop its work; returns the number of jobs stopped.

    Open jobs are cancelled, except jobs in `publishing`, which fail with `reason` (the state
    machine does not cancel a publish half done). Running syncs and unfinished publications
    fail too. Later calls for the shop raise ShopNotConnected instead of reaching Shopify.
    """
    with transaction.atomic():
        locked = Shop.objects.select_for_update().get(pk=shop.pk)
        locked.access_token = ""
        locked.refresh_token = ""
        locked.access_token_expires_at = None
        locked.refresh_token_expires_at = None
        locked.uninstalled_at = timezone.now()
        locked.save()
        SyncRun.objects.filter(shop=shop, status=SyncStatus.RUNNING).update(
            status=SyncStatus.FAILED, error_message=reason, finished_at=timezone.now()
        )
        Publication.objects.filter(
            shop=shop,
            status__in=[
                PublicationStatus.PENDING,
                PublicationStatus.STAGED,
                PublicationStatus.ATTACHED,
            ],
        ).update(status=PublicationStatus.FAILED, error_message=reason)
    stopped = 0
    for job_id, state in GenerationJob.objects.filter(shop=shop, state__in=OPEN_STATES).values_list(
        "pk", "state"
    ):
        to_state = JobState.FAILED if state == JobState.PUBLISHING else JobState.CANCELLED
        job_transition(job_id=job_id, to_state=to_state, reason=reason, actor="uninstall")
        stopped += 1
    logger.info("Shop %s uninstalled: tokens erased, %s jobs stopped", shop.domain, stopped)
    return stopped


def shop_redact(*, shop_domain: str, keep_delivery_id: int | None = None) -> int:
    """Erase everything stored for a shop: rows, stored images and candidate files.

    Returns the number of files deleted from storage. The delivery that asked for the erasure
    (`keep_delivery_id`) is kept, with its payload emptied, as the record that it happened.
    """
    try:
        domain = normalize_shop_domain(shop_domain)
    except InvalidShopDomain:
        logger.warning("shop/redact for invalid domain %r ignored", shop_domain)
        return 0
    shop = Shop.objects.filter(domain=domain).first()
    names: set[str] = set()
    if shop is not None:
        names.update(
            n for n in ProductImage.objects.filter(shop=shop).values_list("stored", flat=True) if n
        )
        for image, thumbnail in Candidate.objects.filter(job__shop=shop).values_list(
            "image", "thumbnail"
        ):
            names.update(n for n in (image, thumbnail) if n)
    with transaction.atomic():
        deliveries = WebhookDelivery.objects.filter(shop_domain=domain)
        if keep_delivery_id is not None:
            deliveries = deliveries.exclude(pk=keep_delivery_id)
            WebhookDelivery.objects.filter(pk=keep_delivery_id).update(payload={}, shop=None)
        deliveries.delete()
        if shop is not None:
            shop.delete()
    erased = 0
    for name in sorted(names):
        if default_storage.exists(name):
            default_storage.delete(name)
            erased += 1
    logger.info("Shop %s redacted: data deleted, %s stored files erased", domain, erased)
    return erased


# --- publishing --------------------------------------------------------------------------------


def publication_start(*, candidate_id: int, actor: str = "system") -> Publication:
    """Create the publication of an approved candidate and move its job to `publishing`.

    The idempotency key is derived from the candidate, so a double click or a retried request
    returns the existing publication instead of publishing twice. The publish task is
    enqueued after commit.
    """
    from integrations.shopify.tasks import publish_publication_task

    candidate = Candidate.objects.select_related("job", "job__shop").get(pk=candidate_id)
    key = f"candidate-{candidate.pk}"
    with transaction.atomic():
        publication, created = Publication.objects.get_or_create(
            idempotency_key=key,
            defaults={
                "candidate": candidate,
                "shop": candidate.job.shop,
                "alt_text": candidate.job.shop.disclosure_text[:512],
            },
        )
        if created:
            job_transition(
                job_id=candidate.job_id,
                to_state=JobState.PUBLISHING,
                actor=actor,
                from_states=[JobState.APPROVED],
            )
            transaction.on_commit(lambda: publish_publication_task.delay(publication.pk))
    return publication

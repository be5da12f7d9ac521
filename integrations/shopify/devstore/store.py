"""The dev store: shops, GraphQL execution, tokens, media, bulk operations and webhooks."""

from __future__ import annotations

import functools
import logging
import re
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from graphql import (
    DocumentNode,
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from .auth import TokenAuthority
from .bulk import BulkRunner
from .faults import FaultPlan, Faults
from .models import API_VERSION, MediaImage, Product, Shop, StagedUpload, Variant, next_id, utc_now
from .mutations import MUTATION_FIELDS
from .processing import MediaProcessor
from .resolvers import Context, attach_resolvers, resolve_type
from .schema import (
    MAX_QUERY_COST,
    CostCalculator,
    deprecated_fields,
    load_schema,
    shopify_error,
)
from .seed import ImageFolder, SeedReport, seed_shop
from .throttle import LeakyBucket, plan_named
from .webhooks import DeliveryAttempt, WebhookDispatcher, product_payload

logger = logging.getLogger(__name__)

SHOP_DOMAIN = re.compile(r"^[a-z0-9][a-z0-9-]*\.myshopify\.com$")
DEFAULT_SCOPES = "read_products,write_products,read_files,write_files"
DEPRECATION_DOCS = "https://shopify.dev/api/usage/versioning#deprecation-practices"
UNAUTHORIZED_BODY = {
    "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
}
# Topics the app receives without creating a subscription, like those in an app's TOML file.
DEFAULT_TOPICS = (
    "products/create",
    "products/update",
    "products/delete",
    "app/uninstalled",
    "app/scopes_update",
    "bulk_operations/finish",
    "customers/data_request",
    "customers/redact",
    "shop/redact",
)


@functools.cache
def served_schema():
    """Return the Admin schema with the dev store's resolvers, built once per process."""
    schema = load_schema()
    attach_resolvers(schema, MUTATION_FIELDS)
    return schema


@functools.lru_cache(maxsize=512)
def _parse_and_validate(
    query: str,
) -> tuple[DocumentNode | None, tuple[GraphQLError, ...], tuple[str, ...]]:
    """Parse and validate a document once; also list the deprecated fields it selects."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return None, (error,), ()
    errors = tuple(validate(served_schema(), document))
    deprecated = () if errors else deprecated_fields(served_schema(), document)
    return document, errors, deprecated


class GraphQLResponse:
    """HTTP status, JSON body and extra headers of one GraphQL response."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = headers or {}


class DevStore:
    """A local stand-in for the Shopify Admin API of one app across several shops.

    Create it with the app's API key and secret, add shops (seeded from a product CSV), then
    `start()` the HTTP server or call `graphql()` in-process. `clock` drives the leaky
    buckets, so a test can move time. See the package README for the URL layout and the fault
    switches.
    """

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        *,
        app_url: str | None = None,
        scopes: str = DEFAULT_SCOPES,
        access_token_ttl: int = 3600,
        refresh_token_grace: bool = False,
        media_processing_seconds: float = 0.2,
        webhook_timeout: float = 5.0,
        webhook_max_attempts: int = 3,
        webhook_retry_delay: float = 0.2,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if not api_key or not api_secret:
            raise ValueError(
                "DevStore needs the app's api_key and api_secret; one of them is empty."
            )

        self.api_key = api_key
        self.api_secret = api_secret
        self.app_url = app_url.rstrip("/") if app_url else None
        self.schema = served_schema()
        self.lock = threading.RLock()
        self.shops: dict[str, Shop] = {}
        self.buckets: dict[str, LeakyBucket] = {}
        # Each request that selected deprecated fields: (shop domain, the `Type.field` names).
        self.deprecated_calls: list[tuple[str, tuple[str, ...]]] = []
        self._clock = clock

        self.faults = FaultPlan()
        self.tokens = TokenAuthority(
            api_key,
            api_secret,
            scopes,
            shop_exists=lambda domain: domain in self.shops,
            access_token_ttl=access_token_ttl,
            refresh_grace=refresh_token_grace,
        )
        self.webhooks = WebhookDispatcher(
            api_secret,
            self.faults,
            timeout=webhook_timeout,
            max_attempts=webhook_max_attempts,
            retry_delay=webhook_retry_delay,
        )
        self.media = MediaProcessor(self, media_processing_seconds)
        self.bulk = BulkRunner(self)
        self.base_url = "http://127.0.0.1"
        self._server = None
        self._server_thread: threading.Thread | None = None
        self.media.start()
        self.webhooks.start()

    # --- shops and seeding ----------------------------------------------------------------------

    def add_shop(
        self,
        domain: str,
        *,
        plan: str = "standard",
        name: str | None = None,
        csv: str | Path | None = None,
        images: str | Path | None = None,
    ) -> SeedReport:
        """Create a shop, optionally seeded from a product CSV and an images folder."""
        if not SHOP_DOMAIN.match(domain):
            raise ValueError(
                f"Shop domain {domain!r} is invalid; use NAME.myshopify.com in lower case."
            )
        bucket_plan = plan_named(plan)
        with self.lock:
            if domain in self.shops:
                raise ValueError(f"Shop {domain} already exists in this dev store.")
            shop = Shop(
                domain=domain, name=name or domain.split(".")[0], plan=plan, email=f"owner@{domain}"
            )
            self.shops[domain] = shop
            self.buckets[domain] = LeakyBucket(bucket_plan, self._clock)
            report = SeedReport()
            if csv is not None:
                report = seed_shop(shop, csv, ImageFolder(images))
        return report

    def shop(self, domain: str) -> Shop:
        try:
            return self.shops[domain]
        except KeyError:
            raise ValueError(
                f"Shop {domain!r} is not in this dev store; call add_shop first."
            ) from None

    def install(self, domain: str, *, expiring: bool = False) -> dict:
        """Install the app on a shop without OAuth and return the token response body."""
        self.shop(domain)
        return self.tokens.install(domain, expiring=expiring)

    def uninstall(self, domain: str) -> None:
        """Revoke the shop's tokens and send `app/uninstalled`, as Shopify does."""
        shop = self.shop(domain)
        self.tokens.revoke_shop(domain)
        payload = {
            "id": shop.id,
            "name": shop.name,
            "email": shop.email,
            "domain": domain,
            "myshopify_domain": domain,
            "plan_name": shop.plan,
        }
        self.emit_webhook(shop, "app/uninstalled", payload, require_install=False)

    def mint_session_token(self, domain: str, **overrides: Any) -> str:
        """Mint an App Bridge session token; keywords as `TokenAuthority.mint_session_token`."""
        return self.tokens.mint_session_token(domain, **overrides)

    def bucket(self, domain: str) -> LeakyBucket:
        return self.buckets[self.shop(domain).domain]

    def set_faults(self, faults: Faults | None = None, **switches: Any) -> Faults:
        """Replace the active faults; keywords build a `Faults` (seeded, so draws repeat)."""
        chosen = faults or Faults(**switches)
        self.faults.set(chosen)
        return chosen

    # --- GraphQL ----------------------------------------------------------------------------------

    def graphql(
        self,
        domain: str,
        query: str,
        variables: dict | None = None,
        operation_name: str | None = None,
        *,
        cost_check: bool = True,
        force_throttle: bool = False,
    ) -> GraphQLResponse:
        """Execute one Admin API request for `domain`, without token checks.

        `cost_check=False` skips the bucket and the single-query limit, for measurements;
        `force_throttle=True` returns `THROTTLED` with the document's requested cost, as the
        throttle fault does.
        """
        shop = self.shop(domain)
        document, errors, deprecated = _parse_and_validate(query)
        if document is None or errors:
            body = {"errors": [shopify_error(error) for error in errors]}
            body["extensions"] = self._cost_extension(domain, 0, 0)
            return GraphQLResponse(200, body)
        operation, fragments, problem = _pick_operation(document, operation_name)
        if problem:
            body = {"errors": [{"message": problem, "extensions": {"code": "operationNotFound"}}]}
            body["extensions"] = self._cost_extension(domain, 0, 0)
            return GraphQLResponse(200, body)
        coerced = get_variable_values(self.schema, operation.variable_definitions, variables or {})
        if isinstance(coerced, list):
            types = {
                definition.variable.name.value: _type_text(definition.type)
                for definition in operation.variable_definitions
            }
            body = {"errors": [shopify_error(error, types) for error in coerced]}
            body["extensions"] = self._cost_extension(domain, 0, 0)
            return GraphQLResponse(200, body)
        calculator = CostCalculator(self.schema, operation, fragments, coerced)
        requested = calculator.requested()
        bucket = self.buckets[domain]
        if cost_check and requested > MAX_QUERY_COST:
            message = (
                f"Query cost is {requested}, which exceeds the single query max cost limit "
                f"({MAX_QUERY_COST})."
            )
            body = {
                "errors": [
                    {
                        "message": message,
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": MAX_QUERY_COST,
                        },
                    }
                ],
                "extensions": self._cost_extension(domain, requested, None),
            }
            return GraphQLResponse(200, body)
        if force_throttle or (cost_check and not bucket.try_spend(requested)):
            return GraphQLResponse(200, self.throttled_body(domain, requested))
        with self.lock:
            context = Context(store=self, shop=shop, base_url=self.base_url)
            result = execute(
                self.schema,
                document,
                variable_values=variables or {},
                operation_name=operation_name,
                context_value=context,
                type_resolver=resolve_type,
                # Every resolver is synchronous, so graphql-core can skip its awaitable checks.
                is_awaitable=_never_awaitable,
            )
        actual = calculator.actual(result.data)
        if cost_check:
            bucket.refund(max(0, requested - actual))
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [shopify_error(error, validation=False) for error in result.errors]
        body["data"] = result.data
        extensions = self._cost_extension(domain, requested, actual)
        if context.search:
            extensions["search"] = context.search
        body["extensions"] = extensions
        headers = {}
        if deprecated:
            # Shopify flags requests that use deprecated fields with this header.
            headers["X-Shopify-API-Deprecated-Reason"] = DEPRECATION_DOCS
            self.deprecated_calls.append((domain, deprecated))
            logger.warning(
                "Request for %s uses deprecated fields: %s", domain, ", ".join(deprecated)
            )
        return GraphQLResponse(200, body, headers)

    def throttled_body(self, domain: str, requested: int) -> dict:
        return {
            "errors": [
                {
                    "message": "Throttled",
                    "extensions": {
                        "code": "THROTTLED",
                        "documentation": "https://shopify.dev/api/usage/rate-limits",
                    },
                }
            ],
            "extensions": self._cost_extension(domain, requested, None),
        }

    def _cost_extension(self, domain: str, requested: int, actual: int | None) -> dict:
        return {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.buckets[domain].status(),
            }
        }

    # --- webhooks ---------------------------------------------------------------------------------

    def webhook_urls(self, shop: Shop, topic: str) -> list[str]:
        enum_name = topic.upper().replace("/", "_")
        urls = [sub.uri for sub in shop.subscriptions.values() if sub.topic == enum_name]
        if self.app_url and topic in DEFAULT_TOPICS:
            urls.append(f"{self.app_url}/shopify/webhooks")
        return list(dict.fromkeys(urls))

    def emit_webhook(
        self,
        shop: Shop,
        topic: str,
        payload: dict | None = None,
        *,
        body: bytes | None = None,
        require_install: bool = True,
    ) -> list:
        """Send a webhook for `topic` to every subscribed address of an installed app."""
        if require_install and shop.domain not in self.tokens.installed:
            return []
        urls = self.webhook_urls(shop, topic)
        if not urls:
            return []
        return self.webhooks.send(shop.domain, topic, urls, payload=payload, body=body)

    def send_webhook(
        self, domain: str, topic: str, payload: dict | None = None, *, body: bytes | None = None
    ) -> list:
        """Send any topic to the app now, installed or not; `body` sends exact raw bytes.

        Tests use it for compliance topics and for bodies with escapes that a payload dict
        cannot pin down.
        """
        return self.emit_webhook(
            self.shop(domain), topic, payload, body=body, require_install=False
        )

    def product_changed(self, shop: Shop, product: Product, topic: str) -> None:
        with self.lock:
            if topic == "products/delete":
                payload = {"id": product.id}
            else:
                payload = product_payload(shop, product, self.base_url)
        self.emit_webhook(shop, topic, payload)

    @property
    def deliveries(self) -> list[DeliveryAttempt]:
        """Every webhook POST attempt so far, in the order they were sent."""
        return list(self.webhooks.attempts)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait for media processing and webhook delivery to finish; False on timeout."""
        deadline = time.monotonic() + timeout
        media_done = self.media.wait_idle(timeout)
        return media_done and self.webhooks.wait_idle(max(0.0, deadline - time.monotonic()))

    # --- merchant actions -------------------------------------------------------------------------

    def merchant_create_product(
        self,
        domain: str,
        title: str,
        *,
        handle: str | None = None,
        vendor: str = "",
        product_type: str = "",
        tags: list[str] | None = None,
        variants: list[dict] | None = None,
        images: list[str | Path] | None = None,
    ) -> Product:
        """Create a product as a merchant would in the admin, and send `products/create`.

        `variants` holds dicts with `sku`, `price` and `options` (a list of option values);
        the option names are Size, Color and Material in that order.
        """
        shop = self.shop(domain)
        with self.lock:
            handle = handle or re.sub(r"[^a-z0-9]+", "-", title.lower()).strip("-")
            if any(product.handle == handle for product in shop.products.values()):
                raise ValueError(
                    f"Handle {handle!r} is already used in {domain}; pass another handle."
                )
            product = Product(
                id=next_id("Product"),
                shop_domain=domain,
                handle=handle,
                title=title,
                vendor=vendor,
                product_type=product_type,
                tags=list(tags or []),
            )
            specs = variants or [{"options": ["Default Title"]}]
            width = max(len(spec.get("options") or ["x"]) for spec in specs)
            product.option_names = (
                ["Title"] if not variants else ["Size", "Color", "Material"][:width]
            )
            for position, spec in enumerate(specs, start=1):
                options = list(spec.get("options") or ["Default Title"])
                product.variants.append(
                    Variant(
                        id=next_id("ProductVariant"),
                        product_id=product.id,
                        title=" / ".join(options),
                        sku=spec.get("sku", ""),
                        price=spec.get("price", "0.00"),
                        position=position,
                        options=options,
                    )
                )
            shop.products[product.id] = product
            for image in images or []:
                self._add_ready_image(shop, product, Path(image), alt="")
        self.product_changed(shop, product, "products/create")
        return product

    def merchant_update_product(self, domain: str, product_id: int, **changes: Any) -> Product:
        """Change product fields (`title`, `body_html`, `tags`, ...) and send the webhook."""
        shop = self.shop(domain)
        with self.lock:
            product = self._product(shop, product_id)
            for name, value in changes.items():
                if not hasattr(product, name) or name in ("id", "variants", "media_ids"):
                    raise ValueError(
                        f"Product field {name!r} cannot be changed by a merchant edit."
                    )
                setattr(product, name, value)
            product.updated_at = utc_now()
        self.product_changed(shop, product, "products/update")
        return product

    def merchant_delete_product(self, domain: str, product_id: int) -> None:
        shop = self.shop(domain)
        with self.lock:
            product = self._product(shop, product_id)
            del shop.products[product_id]
            for media_id in product.media_ids:
                media = shop.files.get(media_id)
                if media is not None and product_id in media.product_ids:
                    media.product_ids.remove(product_id)
        self.product_changed(shop, product, "products/delete")

    def merchant_add_image(
        self, domain: str, product_id: int, image: str | Path, *, alt: str = ""
    ) -> MediaImage:
        """Add an image file to a product as a merchant upload, and send `products/update`."""
        shop = self.shop(domain)
        with self.lock:
            product = self._product(shop, product_id)
            media = self._add_ready_image(shop, product, Path(image), alt=alt)
            product.updated_at = utc_now()
        self.product_changed(shop, product, "products/update")
        return media

    def _product(self, shop: Shop, product_id: int) -> Product:
        product = shop.products.get(product_id)
        if product is None:
            raise ValueError(f"Product {product_id} does not exist in {shop.domain}.")
        return product

    def _add_ready_image(self, shop: Shop, product: Product, path: Path, alt: str) -> MediaImage:
        folder = ImageFolder(None)
        info = folder.check(path)
        if info is None:
            raise ValueError(f"Image {str(path)!r} is one Shopify would reject; use a valid image.")
        media = MediaImage(
            id=next_id("MediaImage"),
            shop_domain=shop.domain,
            filename=path.name,
            alt=alt,
            status="READY",
            original_source=path.name,
            source_path=path,
            mime_type=info.mime_type,
            width=info.width,
            height=info.height,
            product_ids=[product.id],
        )
        shop.files[media.id] = media
        product.media_ids.append(media.id)
        return media

    # --- uploads and files ------------------------------------------------------------------------

    def add_staged_upload(self, shop: Shop, key: str, item: dict, method: str) -> None:
        shop.staged[key] = StagedUpload(
            key=key,
            shop_domain=shop.domain,
            filename=item["filename"],
            mime_type=item["mimeType"],
            resource=item["resource"],
            http_method=method,
            declared_size=int(item["fileSize"]) if item.get("fileSize") else None,
        )

    def find_staged(self, key: str) -> StagedUpload | None:
        for shop in self.shops.values():
            if key in shop.staged:
                return shop.staged[key]
        return None

    def find_media_by_cdn_path(self, path: str) -> MediaImage | None:
        parts = path.split("/")
        # /cdn/shop/files/<media id>/<file name>
        if len(parts) < 6 or not parts[4].isdigit():
            return None
        media_id = int(parts[4])
        for shop in self.shops.values():
            media = shop.files.get(media_id)
            if media is not None:
                return media if media.filename == parts[5] else None
        return None

    # --- server -----------------------------------------------------------------------------------

    def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Serve the dev store on `host:port` (0 picks a free port) and return the base URL."""
        from .server import make_server

        if self._server is not None:
            return self.base_url
        self._server = make_server(self, host, port)
        bound_host, bound_port = self._server.server_address[:2]
        self.base_url = f"http://{bound_host}:{bound_port}"
        self._server_thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="devstore-http", daemon=True
        )
        self._server_thread.start()
        logger.info("Dev store serving %d shops at %s", len(self.shops), self.base_url)
        return self.base_url

    def stop(self) -> None:
        """Stop the HTTP server and the background threads."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        self.media.stop()
        self.webhooks.stop()

    def admin_url(self, domain: str) -> str:
        """GraphQL endpoint of a shop on this server."""
        return f"{self.base_url}/shops/{domain}/admin/api/{API_VERSION}/graphql.json"

    def shop_url(self, domain: str) -> str:
        """Base of a shop's URLs (`/admin/oauth/...`, `/admin/api/...`) on this server."""
        return f"{self.base_url}/shops/{domain}"

    def __enter__(self) -> DevStore:
        self.start()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.stop()


def _pick_operation(
    document: DocumentNode, operation_name: str | None
) -> tuple[OperationDefinitionNode | None, dict[str, FragmentDefinitionNode], str | None]:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    if operation_name:
        for operation in operations:
            if operation.name and operation.name.value == operation_name:
                return operation, fragments, None
        return None, fragments, f'No operation named "{operation_name}"'
    if len(operations) != 1:
        return None, fragments, "An operation name is required"
    return operations[0], fragments, None


def _never_awaitable(value: Any) -> bool:
    return False


def _type_text(node) -> str:
    from graphql import print_ast

    return print_ast(node)

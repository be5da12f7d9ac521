"""URLs of a shop's Admin API: Shopify itself, or the local dev store in tests and demos."""

import httpx
from django.conf import settings

from integrations.shopify.domains import normalize_shop_domain


def shop_base_url(shop_domain: str) -> str:
    """Return the base URL of the shop's admin host, without a trailing slash.

    With SHOPIFY_ADMIN_BASE_URL empty this is `https://{shop}`, Shopify's own host. Otherwise the
    setting names a dev store, which serves each shop under `{base}/shops/{shop}`.
    """
    domain = normalize_shop_domain(shop_domain)
    base = settings.SHOPIFY_ADMIN_BASE_URL.rstrip("/")
    if not base:
        return f"https://{domain}"
    return f"{base}/shops/{domain}"


def graphql_url(shop_domain: str) -> str:
    return f"{shop_base_url(shop_domain)}/admin/api/{settings.SHOPIFY_API_VERSION}/graphql.json"


def token_url(shop_domain: str) -> str:
    return f"{shop_base_url(shop_domain)}/admin/oauth/access_token"


def authorize_url(shop_domain: str) -> str:
    return f"{shop_base_url(shop_domain)}/admin/oauth/authorize"


class ShopHostTransport(httpx.BaseTransport):
    """An httpx transport that sends requests for `https://{shop}/...` to `shop_base_url`.

    The `shopify_app` package builds Shopify's own URLs itself. This transport lets its token
    exchange and refresh reach the dev store when SHOPIFY_ADMIN_BASE_URL is set, and it leaves
    every URL alone when the setting is empty.
    """

    def __init__(self) -> None:
        self._inner = httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.host
        if settings.SHOPIFY_ADMIN_BASE_URL and host.endswith(".myshopify.com"):
            target = httpx.URL(shop_base_url(host) + request.url.raw_path.decode("ascii"))
            request.url = target
            request.headers["Host"] = target.netloc.decode("ascii")
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def shopify_http_client() -> httpx.Client:
    """Create an httpx client for `shopify_app` calls, with the service's timeout and routing."""
    return httpx.Client(transport=ShopHostTransport(), timeout=settings.SHOPIFY_HTTP_TIMEOUT)

"""Session tokens of the embedded admin: App Bridge signs one per request (HS256 JWT with the
app's secret), and every embedded-admin view checks it before it touches a shop's data."""

import functools
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
from django.conf import settings
from django.http import HttpRequest, HttpResponse

from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import SessionTokenError
from wearview.catalog.models import Shop

logger = logging.getLogger(__name__)

# Clock skew tolerated on `exp` and `nbf`. Session tokens live one minute, so a larger leeway
# would extend their life noticeably.
LEEWAY_SECONDS = 5
REQUIRED_CLAIMS = ["iss", "dest", "aud", "sub", "exp", "nbf", "iat"]
RETRY_HEADER = "X-Shopify-Retry-Invalid-Session-Request"


@dataclass(frozen=True)
class SessionToken:
    """A verified session token: the shop it was issued for and its raw claims."""

    shop: Shop
    user_id: str
    claims: dict[str, Any]
    token: str


def _shop_host(url: object, claim: str, path: str) -> str:
    """Return the shop domain of `https://{shop}{path}`, the only form Shopify puts in `claim`.

    The raw string is compared, not a parsed URL: URL parsers lowercase hosts and drop
    control characters, which would let a spelling that is not a shop domain through.
    """
    if not isinstance(url, str) or not url.startswith("https://") or not url.endswith(path):
        raise SessionTokenError(f"Session token claim {claim!r} is not an https shop URL: {url!r}.")
    host = url[len("https://") : len(url) - len(path)]
    try:
        return normalize_shop_domain(host)
    except InvalidShopDomain as exc:
        raise SessionTokenError(f"Session token claim {claim!r}: {exc}") from None


def verify_session_token_claims(token: str) -> tuple[str, dict[str, Any]]:
    """Verify `token` and return the shop domain it names and its claims.

    The signature, `aud` (the app's API key), `exp` and `nbf` (with LEEWAY_SECONDS) are
    checked. `iss` and `dest` must name the same shop host, and the shop comes from `dest`.
    Whether the shop has the app installed is not checked here.

    Raises:
        SessionTokenError: any check fails; the message names the failed check.
    """
    try:
        claims = jwt.decode(
            token,
            settings.SHOPIFY_API_SECRET,
            algorithms=["HS256"],
            audience=settings.SHOPIFY_API_KEY,
            leeway=LEEWAY_SECONDS,
            options={"require": REQUIRED_CLAIMS},
        )
    except jwt.PyJWTError as exc:
        raise SessionTokenError(f"Session token rejected: {exc}.") from None

    dest_host = _shop_host(claims["dest"], "dest", "")
    iss_host = _shop_host(claims["iss"], "iss", "/admin")
    if iss_host != dest_host:
        raise SessionTokenError(
            f"Session token iss host {iss_host!r} does not match dest host {dest_host!r}."
        )
    return dest_host, claims


def decode_session_token(token: str) -> SessionToken:
    """Verify `token` and return it with the installed shop it names.

    Raises:
        SessionTokenError: a check of `verify_session_token_claims` fails, or the shop does not
            have the app installed.
    """
    domain, claims = verify_session_token_claims(token)
    shop = Shop.objects.filter(
        domain=domain, installed_at__isnull=False, uninstalled_at__isnull=True
    ).first()
    if shop is None:
        raise SessionTokenError(f"Shop {domain} does not have the app installed.")
    return SessionToken(shop=shop, user_id=str(claims["sub"]), claims=claims, token=token)


def bearer_token(request: HttpRequest) -> str:
    """Return the bearer token of the Authorization header, or an empty string."""
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer":
        return ""
    return value.strip()


def unauthorized(reason: str) -> HttpResponse:
    # With this header, App Bridge fetches a fresh session token and repeats the request.
    response = HttpResponse("Unauthorized", status=401, content_type="text/plain")
    response[RETRY_HEADER] = "1"
    return response


def session_token_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate an embedded-admin view so that it returns 401 unless the request carries a
    valid session token, and sets `request.shopify_session` to the verified SessionToken."""

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        token = bearer_token(request)
        if not token:
            logger.info("Embedded request to %s without a session token", request.path)
            return unauthorized("missing")
        try:
            session = decode_session_token(token)
        except SessionTokenError as exc:
            logger.info("Embedded request to %s rejected: %s", request.path, exc)
            return unauthorized(str(exc))
        request.shopify_session = session
        return view(request, *args, **kwargs)

    return wrapper

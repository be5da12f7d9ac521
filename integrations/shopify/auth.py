"""Installing the app on a shop and keeping its offline access token usable.

Two ways in: Shopify's managed install with token exchange (the embedded app sends a session
token, which is exchanged for an expiring offline access token), and the authorization-code
flow for non-embedded use. Expiring tokens are refreshed shortly before they expire; Shopify
rotates the refresh token on every use, so the newest one is always stored.
"""

import hashlib
import hmac
import logging
import secrets
import time
from collections.abc import Mapping
from datetime import datetime, timedelta
from urllib.parse import urlencode

import requests
import shopify_app
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from integrations.shopify import endpoints
from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import (
    OAuthCallbackError,
    SessionTokenError,
    ShopifyTransientError,
    ShopNotConnected,
)
from integrations.shopify.models import OAuthState
from integrations.shopify.session_tokens import verify_session_token_claims
from wearview.catalog.models import Shop

logger = logging.getLogger(__name__)

# An access token this close to its expiry is refreshed before use, so a request never starts
# with a token that expires on its way.
REFRESH_MARGIN = timedelta(minutes=5)
# Maximum age of the `timestamp` of an authorization-code callback and of its `state` nonce.
OAUTH_MAX_AGE_SECONDS = 600
OAUTH_CLOCK_SKEW_SECONDS = 60
# shopify_app result codes of a refresh that failed for a reason other than the token.
TRANSIENT_REFRESH_CODES = frozenset({"network_error", "server_error", "rate_limit_exceeded"})


def _app_config() -> dict:
    return {
        "client_id": settings.SHOPIFY_API_KEY,
        "client_secret": settings.SHOPIFY_API_SECRET,
        "old_client_secret": None,
    }


def _parse_expiry(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


def _seconds_from_now(seconds: object) -> datetime | None:
    if seconds in (None, ""):
        return None
    return timezone.now() + timedelta(seconds=int(seconds))


def _store_tokens(
    shop: Shop,
    *,
    access_token: str,
    scope: str,
    expires_at: datetime | None,
    refresh_token: str | None,
    refresh_token_expires_at: datetime | None,
) -> None:
    now = timezone.now()
    shop.access_token = access_token
    shop.access_token_expires_at = expires_at
    shop.refresh_token = refresh_token or ""
    shop.refresh_token_expires_at = refresh_token_expires_at
    shop.scopes = scope
    shop.auth_failed_at = None
    shop.auth_failure = ""
    if shop.installed_at is None or shop.uninstalled_at is not None:
        shop.installed_at = now
    shop.uninstalled_at = None
    shop.save()


def _shop_for_install(domain: str) -> Shop:
    shop, created = Shop.objects.get_or_create(domain=domain)
    if created:
        logger.info("Shop %s created on install", domain)
    return shop


# --- managed install: token exchange -----------------------------------------------------------


def shop_install_with_session_token(*, session_token: str) -> Shop:
    """Exchange an App Bridge session token for an expiring offline access token and store it.

    The session token is verified first (signature, audience, lifetime, iss and dest). The shop
    need not be installed yet, because this call is what installs it.

    Raises:
        SessionTokenError: the session token fails a check or Shopify rejects it.
    """
    domain, claims = verify_session_token_claims(session_token)
    id_token = shopify_app.IdTokenDetails(exchangeable=True, token=session_token, claims=claims)
    with endpoints.shopify_http_client() as client:
        result = shopify_app.token_exchange(
            "offline", _app_config(), id_token=id_token, expiring=True, http_client=client
        )
    if not result.ok or result.access_token is None:
        logger.warning("Token exchange for shop %s failed: %s", domain, result.log.code)
        raise SessionTokenError(f"Token exchange for shop {domain} failed: {result.log.detail}")
    token = result.access_token
    with transaction.atomic():
        shop = _shop_for_install(domain)
        _store_tokens(
            shop,
            access_token=token.token,
            scope=token.scope,
            expires_at=_parse_expiry(token.expires),
            refresh_token=token.refresh_token,
            refresh_token_expires_at=_parse_expiry(token.refresh_token_expires),
        )
    logger.info(
        "Shop %s installed by token exchange; token expires at %s",
        domain,
        shop.access_token_expires_at,
    )
    return shop


# --- expiring tokens ---------------------------------------------------------------------------


def _mark_auth_failed(shop: Shop, reason: str) -> None:
    Shop.objects.filter(pk=shop.pk).update(auth_failed_at=timezone.now(), auth_failure=reason[:500])
    logger.warning("Shop %s can no longer authenticate: %s", shop.domain, reason)


def shop_mark_token_rejected(*, shop: Shop, reason: str) -> None:
    """Record that Shopify rejected the shop's token (401), so queued work stops for the shop."""
    _mark_auth_failed(shop, reason)


def _needs_refresh(shop: Shop) -> bool:
    expires_at = shop.access_token_expires_at
    return expires_at is not None and expires_at - REFRESH_MARGIN <= timezone.now()


def shop_refresh_access_token(*, shop_id: int, force: bool = False) -> Shop:
    """Refresh the shop's expiring access token and store the new access and refresh tokens.

    The shop row is locked while the refresh runs. Shopify invalidates a refresh token on use,
    so two workers that refreshed at once would leave one of them holding a dead token. With
    the lock, the second worker finds the fresh token and does not refresh again.

    Raises:
        ShopNotConnected: the shop is uninstalled, has no refresh token, or Shopify rejects it.
    """
    with transaction.atomic():
        shop = Shop.objects.select_for_update().get(pk=shop_id)
        if not force and not _needs_refresh(shop):
            return shop
        if not shop.is_installed or not shop.refresh_token:
            raise ShopNotConnected(
                f"Shop {shop.domain} has no refresh token; install the app on the shop again."
            )
        name = shop.domain.removesuffix(".myshopify.com")
        current = {
            "shop": name,
            "refresh_token": shop.refresh_token,
            # An empty expiry makes shopify_app refresh now: the margin is decided here.
            "expires": "",
            "refresh_token_expires": (
                shop.refresh_token_expires_at.strftime("%Y-%m-%dT%H:%M:%SZ")
                if shop.refresh_token_expires_at
                else ""
            ),
            "access_mode": "offline",
        }
        with endpoints.shopify_http_client() as client:
            result = shopify_app.refresh_access_token(current, _app_config(), client)
        failed = not result.ok or result.access_token is None or not result.access_token.token
        if failed and result.log.code in TRANSIENT_REFRESH_CODES:
            # The refresh token was not used up: the next attempt can still succeed.
            raise ShopifyTransientError(
                f"Shop {shop.domain} token refresh failed ({result.log.code}); retrying later."
            )
        if failed:
            reason = f"token refresh failed ({result.log.code})"
            logger.warning("Shop %s: %s: %s", shop.domain, reason, result.log.detail)
        else:
            token = result.access_token
            _store_tokens(
                shop,
                access_token=token.token,
                scope=token.scope or shop.scopes,
                expires_at=_parse_expiry(token.expires),
                refresh_token=token.refresh_token,
                refresh_token_expires_at=_parse_expiry(token.refresh_token_expires),
            )
    if failed:
        # Recorded after the transaction: an exception inside it would roll the mark back.
        _mark_auth_failed(shop, reason)
        raise ShopNotConnected(f"Shop {shop.domain}: {reason}; install the app on the shop again.")
    logger.info(
        "Shop %s access token refreshed; expires at %s", shop.domain, shop.access_token_expires_at
    )
    return shop


def shop_access_token(*, shop: Shop) -> str:
    """Return a usable access token for `shop`, refreshing it first when it is about to expire.

    Raises:
        ShopNotConnected: the app is not installed, the token was rejected before, or refreshing
            failed. Callers stop the shop's work; installing again clears the state.
    """
    if not shop.is_installed:
        raise ShopNotConnected(f"Shop {shop.domain} does not have the app installed.")
    if shop.auth_failed_at is not None:
        raise ShopNotConnected(
            f"Shop {shop.domain} token was rejected ({shop.auth_failure}); install the app again."
        )
    if not shop.access_token:
        raise ShopNotConnected(f"Shop {shop.domain} has no access token; install the app again.")
    if _needs_refresh(shop):
        fresh = shop_refresh_access_token(shop_id=shop.pk)
        shop.access_token = fresh.access_token
        shop.access_token_expires_at = fresh.access_token_expires_at
        shop.refresh_token = fresh.refresh_token
        shop.refresh_token_expires_at = fresh.refresh_token_expires_at
    return shop.access_token


# --- authorization-code flow -------------------------------------------------------------------


def query_hmac(params: Mapping[str, str], secret: str) -> str:
    """Compute the hex HMAC-SHA256 Shopify puts in `hmac`: over the other parameters, sorted by
    name, joined as `name=value` with `&`."""
    message = "&".join(
        f"{key}={params[key]}" for key in sorted(params) if key not in ("hmac", "signature")
    )
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def oauth_authorize_url(*, shop_domain: str, redirect_uri: str) -> str:
    """Start the authorization-code flow: store a one-time `state` nonce and return the URL of
    the shop's grant screen.

    Raises:
        InvalidShopDomain: `shop_domain` is not a myshopify.com domain.
    """
    domain = normalize_shop_domain(shop_domain)
    nonce = secrets.token_urlsafe(32)
    OAuthState.objects.create(shop_domain=domain, nonce=nonce)
    query = urlencode(
        {
            "client_id": settings.SHOPIFY_API_KEY,
            "scope": settings.SHOPIFY_SCOPES,
            "redirect_uri": redirect_uri,
            "state": nonce,
        }
    )
    return f"{endpoints.authorize_url(domain)}?{query}"


def _check_callback(params: Mapping[str, str]) -> str:
    received = params.get("hmac", "")
    expected = query_hmac(params, settings.SHOPIFY_API_SECRET)
    if not received or not hmac.compare_digest(received, expected):
        raise OAuthCallbackError("OAuth callback hmac is missing or invalid.")
    try:
        domain = normalize_shop_domain(params.get("shop"))
    except InvalidShopDomain as exc:
        raise OAuthCallbackError(f"OAuth callback: {exc}") from None
    try:
        stamp = int(params.get("timestamp", ""))
    except ValueError:
        raise OAuthCallbackError(
            f"OAuth callback timestamp {params.get('timestamp')!r} is not a number."
        ) from None
    age = time.time() - stamp
    if age > OAUTH_MAX_AGE_SECONDS or age < -OAUTH_CLOCK_SKEW_SECONDS:
        raise OAuthCallbackError(
            f"OAuth callback timestamp {stamp} is {int(age)} s old; start again."
        )
    if not params.get("code"):
        raise OAuthCallbackError("OAuth callback has no code.")
    return domain


def _consume_state(domain: str, nonce: str) -> None:
    oldest = timezone.now() - timedelta(seconds=OAUTH_MAX_AGE_SECONDS)
    # The update succeeds once: a replayed callback finds the nonce already used.
    used = OAuthState.objects.filter(
        nonce=nonce, shop_domain=domain, used_at__isnull=True, created_at__gte=oldest
    ).update(used_at=timezone.now())
    if used != 1:
        raise OAuthCallbackError(
            f"OAuth state for shop {domain} is unknown, used or expired; start the install again."
        )


def shop_install_from_callback(*, params: Mapping[str, str]) -> Shop:
    """Finish the authorization-code flow: check the callback, trade the code for an expiring
    offline token and store it.

    Raises:
        OAuthCallbackError: hmac, shop, timestamp, state or the code exchange failed.
    """
    domain = _check_callback(params)
    _consume_state(domain, params.get("state", ""))
    try:
        response = requests.post(
            endpoints.token_url(domain),
            json={
                "client_id": settings.SHOPIFY_API_KEY,
                "client_secret": settings.SHOPIFY_API_SECRET,
                "code": params["code"],
                "expiring": 1,
            },
            timeout=settings.SHOPIFY_HTTP_TIMEOUT,
        )
    except requests.RequestException as exc:
        raise OAuthCallbackError(f"Code exchange for shop {domain} failed: {exc}") from None
    if response.status_code != 200:
        raise OAuthCallbackError(
            f"Code exchange for shop {domain} failed with HTTP {response.status_code}."
        )
    body = response.json()
    with transaction.atomic():
        shop = _shop_for_install(domain)
        _store_tokens(
            shop,
            access_token=body["access_token"],
            scope=body.get("scope", ""),
            expires_at=_seconds_from_now(body.get("expires_in")),
            refresh_token=body.get("refresh_token"),
            refresh_token_expires_at=_seconds_from_now(body.get("refresh_token_expires_in")),
        )
    logger.info("Shop %s installed by authorization code", domain)
    return shop

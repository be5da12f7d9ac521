"""Access tokens, session tokens and the OAuth endpoints of the dev store."""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from urllib.parse import urlencode, urlparse

import jwt

logger = logging.getLogger(__name__)

TOKEN_EXCHANGE_GRANT = "urn:ietf:params:oauth:grant-type:token-exchange"
ID_TOKEN_TYPE = "urn:ietf:params:oauth:token-type:id_token"
OFFLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:offline-access-token"
ONLINE_TOKEN_TYPE = "urn:shopify:params:oauth:token-type:online-access-token"
SESSION_TOKEN_LEEWAY_SECONDS = 5
AUTHORIZATION_CODE_TTL_SECONDS = 600
# With `refresh_grace`, a used refresh token stays valid until the app uses its replacement,
# for at most 30 days after its first use, as Shopify documents in its changelog entry "More
# resilient refreshes for expiring offline access tokens" (2026-08-28).
REFRESH_RETRY_WINDOW_SECONDS = 30 * 24 * 3600


@dataclass
class AccessToken:
    shop: str
    scope: str
    expires_at: float | None
    online: bool = False


@dataclass
class RefreshToken:
    shop: str
    scope: str
    expires_at: float
    # The refresh token this one replaced, and when this one was first used.
    parent: str | None = None
    first_used_at: float | None = None


class OAuthError(Exception):
    """An OAuth request Shopify would reject, with its HTTP status and error body."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.body = {"error": error, "error_description": description}


def hmac_hex(secret: str, message: str) -> str:
    return hmac.new(secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def sign_query(secret: str, params: dict[str, str]) -> str:
    """Compute the `hmac` Shopify adds to OAuth redirects: hex HMAC-SHA256 of sorted pairs."""
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "hmac")
    return hmac_hex(secret, message)


def sign_webhook_body(secret: str, body: bytes) -> str:
    """Compute `X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw body."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


class TokenAuthority:
    """Issues, checks, rotates and revokes the tokens of one app across the dev store's shops."""

    def __init__(
        self,
        api_key: str,
        api_secret: str,
        scopes: str,
        shop_exists: Callable[[str], bool],
        access_token_ttl: int = 3600,
        refresh_token_ttl: int = 90 * 24 * 3600,
        clock: Callable[[], float] = time.time,
        refresh_grace: bool = False,
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.scopes = scopes
        self.access_token_ttl = access_token_ttl
        self.refresh_token_ttl = refresh_token_ttl
        # False retires a refresh token on first use, which is stricter than Shopify: an app
        # that always keeps the newest token works either way.
        self.refresh_grace = refresh_grace
        self._shop_exists = shop_exists
        self._clock = clock
        self._lock = threading.Lock()
        self._access: dict[str, AccessToken] = {}
        self._refresh: dict[str, RefreshToken] = {}
        self._codes: dict[str, tuple[str, float]] = {}
        self.installed: dict[str, str] = {}

    # --- session tokens -----------------------------------------------------------------------

    def mint_session_token(
        self,
        shop: str,
        *,
        user_id: str = "1",
        lifetime: int = 60,
        secret: str | None = None,
        audience: str | None = None,
        issuer_shop: str | None = None,
    ) -> str:
        """Mint an App Bridge session token (HS256 JWT) for `shop`.

        The keyword overrides build the bad tokens tests need: another signing secret,
        audience or `iss` host, or a negative `lifetime` for an expired token.
        """
        now = int(self._clock())
        claims = {
            "iss": f"https://{issuer_shop or shop}/admin",
            "dest": f"https://{shop}",
            "aud": audience or self.api_key,
            "sub": user_id,
            "exp": now + lifetime,
            "nbf": now - 1,
            "iat": now - 1,
            "jti": str(uuid.uuid4()),
            "sid": secrets.token_hex(16),
            "sig": secrets.token_hex(32),
        }
        return jwt.encode(claims, secret or self.api_secret, algorithm="HS256")

    def verify_session_token(self, token: str) -> str:
        """Return the shop domain of a valid session token or raise `OAuthError`."""
        try:
            claims = jwt.decode(
                token,
                self.api_secret,
                algorithms=["HS256"],
                audience=self.api_key,
                leeway=SESSION_TOKEN_LEEWAY_SECONDS,
                options={"require": ["iss", "dest", "aud", "exp", "nbf"]},
            )
        except jwt.PyJWTError as error:
            raise OAuthError(
                400, "invalid_subject_token", f"Session token is invalid: {error}"
            ) from None
        dest_host = urlparse(claims["dest"]).hostname or ""
        iss_host = urlparse(claims["iss"]).hostname or ""
        if dest_host != iss_host:
            raise OAuthError(400, "invalid_subject_token", "Session token iss and dest differ.")
        if not self._shop_exists(dest_host):
            raise OAuthError(400, "invalid_subject_token", f"Shop {dest_host} does not exist.")
        return dest_host

    # --- issuing ------------------------------------------------------------------------------

    def _issue(
        self,
        shop: str,
        scope: str,
        expiring: bool,
        online: bool = False,
        parent: str | None = None,
    ) -> dict:
        now = self._clock()
        access = (
            "shpat_" + secrets.token_hex(16) if not online else "shpua_" + secrets.token_hex(16)
        )
        body: dict = {"access_token": access, "scope": scope}
        expires_at = None
        if expiring or online:
            expires_at = now + self.access_token_ttl
            body["expires_in"] = self.access_token_ttl
        if expiring and not online:
            refresh = "shprt_" + secrets.token_hex(24)
            self._refresh[refresh] = RefreshToken(
                shop, scope, now + self.refresh_token_ttl, parent=parent
            )
            body["refresh_token"] = refresh
            body["refresh_token_expires_in"] = self.refresh_token_ttl
        if online:
            body["associated_user_scope"] = scope
            body["associated_user"] = {
                "id": 1,
                "first_name": "Dev",
                "last_name": "Owner",
                "email": f"owner@{shop}",
                "account_owner": True,
                "locale": "en",
                "collaborator": False,
                "email_verified": True,
            }
        self._access[access] = AccessToken(shop, scope, expires_at, online)
        self.installed[shop] = scope
        return body

    def install(self, shop: str, *, expiring: bool = False) -> dict:
        """Install the app on `shop` directly and return the token response body."""
        with self._lock:
            return self._issue(shop, self.scopes, expiring)

    def token_request(self, params: dict[str, str], shop: str) -> dict:
        """Handle `POST https://{shop}/admin/oauth/access_token` with its form or JSON fields."""
        if params.get("client_id") != self.api_key or not hmac.compare_digest(
            str(params.get("client_secret", "")), self.api_secret
        ):
            raise OAuthError(401, "invalid_client", "Client authentication failed.")
        grant = params.get("grant_type")
        expiring = str(params.get("expiring", "0")) == "1"
        with self._lock:
            if grant == TOKEN_EXCHANGE_GRANT:
                return self._token_exchange(params, expiring, shop)
            if grant == "refresh_token":
                return self._refresh_grant(params, shop)
            if grant in (None, "", "authorization_code") and "code" in params:
                return self._code_grant(params, expiring, shop)
        raise OAuthError(400, "unsupported_grant_type", f"Grant type {grant!r} is not supported.")

    def _token_exchange(self, params: dict[str, str], expiring: bool, shop: str) -> dict:
        if params.get("subject_token_type") != ID_TOKEN_TYPE:
            raise OAuthError(400, "invalid_request", f"subject_token_type must be {ID_TOKEN_TYPE}.")
        requested = params.get("requested_token_type", OFFLINE_TOKEN_TYPE)
        if requested not in (OFFLINE_TOKEN_TYPE, ONLINE_TOKEN_TYPE):
            raise OAuthError(
                400, "invalid_request", f"requested_token_type {requested!r} is unknown."
            )
        token_shop = self.verify_session_token(str(params.get("subject_token", "")))
        if token_shop != shop:
            raise OAuthError(400, "invalid_subject_token", "Session token is for another shop.")
        return self._issue(shop, self.scopes, expiring, online=requested == ONLINE_TOKEN_TYPE)

    def _refresh_grant(self, params: dict[str, str], shop: str) -> dict:
        token = str(params.get("refresh_token", ""))
        refresh = self._refresh.get(token)
        now = self._clock()
        if refresh is None or refresh.expires_at <= now or refresh.shop != shop:
            raise OAuthError(400, "invalid_grant", "Refresh token is invalid, expired or retired.")
        if refresh.first_used_at is None:
            refresh.first_used_at = now
        elif now - refresh.first_used_at > REFRESH_RETRY_WINDOW_SECONDS:
            raise OAuthError(400, "invalid_grant", "Refresh token is past its retry window.")
        if not self.refresh_grace:
            del self._refresh[token]
        if refresh.shop not in self.installed:
            raise OAuthError(400, "invalid_grant", "The app is not installed on this shop.")
        # Using a replacement retires the token it replaced, and the other replacements issued
        # for retries of that token.
        if refresh.parent is not None:
            self._refresh.pop(refresh.parent, None)
            for other, entry in list(self._refresh.items()):
                if entry.parent == refresh.parent and other != token:
                    del self._refresh[other]
        return self._issue(refresh.shop, refresh.scope, expiring=True, parent=token)

    def _code_grant(self, params: dict[str, str], expiring: bool, shop: str) -> dict:
        entry = self._codes.pop(str(params.get("code", "")), None)
        if entry is None or entry[1] <= self._clock() or entry[0] != shop:
            raise OAuthError(
                400, "invalid_grant", "Authorization code is invalid, expired or used."
            )
        return self._issue(entry[0], self.scopes, expiring)

    def authorize_redirect(self, shop: str, params: dict[str, str]) -> str:
        """Approve an install request at once and return the redirect URL with code and hmac."""
        if params.get("client_id") != self.api_key:
            raise OAuthError(400, "invalid_request", "client_id does not match the app.")
        redirect_uri = params.get("redirect_uri", "")
        if not redirect_uri.startswith(("http://", "https://")):
            raise OAuthError(400, "invalid_request", "redirect_uri must be an absolute URL.")
        code = secrets.token_hex(16)
        with self._lock:
            self._codes[code] = (shop, self._clock() + AUTHORIZATION_CODE_TTL_SECONDS)
        host = base64.b64encode(f"{shop}/admin".encode()).decode().rstrip("=")
        query = {
            "code": code,
            "host": host,
            "shop": shop,
            "state": params.get("state", ""),
            "timestamp": str(int(self._clock())),
        }
        query["hmac"] = sign_query(self.api_secret, query)
        separator = "&" if "?" in redirect_uri else "?"
        return redirect_uri + separator + urlencode(query)

    # --- checking and revoking ----------------------------------------------------------------

    def shop_for_access_token(self, token: str | None, shop: str) -> bool:
        """Return True when `token` is a live access token for `shop`."""
        if not token:
            return False
        with self._lock:
            access = self._access.get(token)
            if access is None or access.shop != shop or shop not in self.installed:
                return False
            return access.expires_at is None or access.expires_at > self._clock()

    def revoke_shop(self, shop: str) -> None:
        """Drop every token of `shop`, as uninstalling the app does."""
        with self._lock:
            self.installed.pop(shop, None)
            self._access = {key: value for key, value in self._access.items() if value.shop != shop}
            self._refresh = {
                key: value for key, value in self._refresh.items() if value.shop != shop
            }
        logger.info("Revoked all tokens of %s", shop)

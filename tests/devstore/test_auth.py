"""Token exchange, refresh rotation, the authorization-code grant and Admin token checks."""

from __future__ import annotations

import hashlib
import hmac
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from integrations.shopify.devstore.auth import (
    ID_TOKEN_TYPE,
    OFFLINE_TOKEN_TYPE,
    TOKEN_EXCHANGE_GRANT,
)

from .conftest import API_KEY, API_SECRET, SHOP, Admin

SHOP_QUERY = "{ shop { myshopifyDomain } }"


def exchange(store, session_token: str, expiring: bool = True) -> requests.Response:
    return requests.post(
        f"{store.shop_url(SHOP)}/admin/oauth/access_token",
        json={
            "client_id": API_KEY,
            "client_secret": API_SECRET,
            "grant_type": TOKEN_EXCHANGE_GRANT,
            "subject_token": session_token,
            "subject_token_type": ID_TOKEN_TYPE,
            "requested_token_type": OFFLINE_TOKEN_TYPE,
            "expiring": "1" if expiring else "0",
        },
        timeout=10,
    )


def refresh(store, refresh_token: str) -> requests.Response:
    return requests.post(
        f"{store.shop_url(SHOP)}/admin/oauth/access_token",
        data={
            "client_id": API_KEY,
            "client_secret": API_SECRET,
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
        },
        timeout=10,
    )


def test_token_exchange_returns_expiring_offline_token(store):
    response = exchange(store, store.mint_session_token(SHOP))
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "access_token",
        "scope",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
    }
    assert body["expires_in"] == 3600
    assert Admin(store, body["access_token"])(SHOP_QUERY)["data"]["shop"]["myshopifyDomain"] == SHOP


def test_token_exchange_non_expiring_has_no_refresh_token(store):
    body = exchange(store, store.mint_session_token(SHOP), expiring=False).json()
    assert set(body) == {"access_token", "scope"}


def test_token_exchange_rejects_bad_session_tokens(store):
    cases = {
        "wrong-secret": store.mint_session_token(
            SHOP, secret="another-secret-long-enough-for-hs256"
        ),
        "expired": store.mint_session_token(SHOP, lifetime=-60),
        "wrong-audience": store.mint_session_token(SHOP, audience="other-app"),
        "iss-dest-mismatch": store.mint_session_token(SHOP, issuer_shop="other.myshopify.com"),
    }
    for name, session_token in cases.items():
        response = exchange(store, session_token)
        assert response.status_code == 400, name
        assert response.json()["error"] == "invalid_subject_token", name


def test_token_exchange_rejects_wrong_client_secret(store):
    response = requests.post(
        f"{store.shop_url(SHOP)}/admin/oauth/access_token",
        json={"client_id": API_KEY, "client_secret": "wrong", "grant_type": TOKEN_EXCHANGE_GRANT},
        timeout=10,
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_refresh_rotates_refresh_token(store):
    first = exchange(store, store.mint_session_token(SHOP)).json()
    second = refresh(store, first["refresh_token"])
    assert second.status_code == 200, second.text
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    assert rotated["access_token"] != first["access_token"]
    assert rotated["refresh_token_expires_in"] == 90 * 24 * 3600
    reused = refresh(store, first["refresh_token"])
    assert reused.status_code == 400
    assert reused.json()["error"] == "invalid_grant"
    assert refresh(store, rotated["refresh_token"]).status_code == 200


def test_refresh_grace_retires_token_once_replacement_used(store):
    store.tokens.refresh_grace = True
    first = exchange(store, store.mint_session_token(SHOP)).json()
    lost = refresh(store, first["refresh_token"]).json()
    # A lost response can be recovered: the old refresh token still works...
    retry = refresh(store, first["refresh_token"])
    assert retry.status_code == 200
    kept = retry.json()
    # ...until one of its replacements is used, which retires it and the other replacement.
    assert refresh(store, kept["refresh_token"]).status_code == 200
    retired = refresh(store, first["refresh_token"])
    assert retired.status_code == 400
    assert retired.json()["error"] == "invalid_grant"
    assert refresh(store, lost["refresh_token"]).status_code == 400


def test_expired_access_token_gets_401(store):
    store.tokens.access_token_ttl = -1
    body = exchange(store, store.mint_session_token(SHOP)).json()
    response = Admin(store, body["access_token"]).post(SHOP_QUERY)
    assert response.status_code == 401
    assert response.json() == {
        "errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"
    }


def test_uninstall_revokes_tokens(store, token, receiver):
    admin = Admin(store, token)
    assert admin.post(SHOP_QUERY).status_code == 200
    store.uninstall(SHOP)
    assert admin.post(SHOP_QUERY).status_code == 401
    assert store.wait_idle(5)
    assert receiver.topics() == ["app/uninstalled"]


def test_missing_or_foreign_token_gets_401(store, token):
    store.add_shop("other.myshopify.com")
    other_token = store.install("other.myshopify.com")["access_token"]
    assert Admin(store, "").post(SHOP_QUERY).status_code == 401
    assert Admin(store, other_token).post(SHOP_QUERY).status_code == 401
    assert Admin(store, other_token, "other.myshopify.com").post(SHOP_QUERY).status_code == 200


def test_unknown_shop_and_version_get_404(store, token):
    response = requests.post(
        f"{store.base_url}/shops/nobody.myshopify.com/admin/api/2026-10/graphql.json",
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )
    assert response.status_code == 404
    response = requests.post(
        f"{store.shop_url(SHOP)}/admin/api/2020-01/graphql.json",
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": token},
        timeout=10,
    )
    assert response.status_code == 404


def test_host_header_routing(store, token):
    response = requests.post(
        f"{store.base_url}/admin/api/2026-10/graphql.json",
        json={"query": SHOP_QUERY},
        headers={"X-Shopify-Access-Token": token, "Host": SHOP},
        timeout=10,
    )
    assert response.status_code == 200
    assert response.json()["data"]["shop"]["myshopifyDomain"] == SHOP


def test_missing_query_gets_400(store, token):
    response = requests.post(
        store.admin_url(SHOP), json={}, headers={"X-Shopify-Access-Token": token}, timeout=10
    )
    assert response.status_code == 400
    assert response.json() == {"errors": {"query": "Required parameter missing or invalid"}}


def test_authorization_code_grant(store):
    redirect = requests.get(
        f"{store.shop_url(SHOP)}/admin/oauth/authorize",
        params={
            "client_id": API_KEY,
            "scope": "read_products",
            "redirect_uri": "http://127.0.0.1:9/auth/callback",
            "state": "nonce-123",
        },
        allow_redirects=False,
        timeout=10,
    )
    assert redirect.status_code == 302
    params = dict(parse_qsl(urlsplit(redirect.headers["Location"]).query))
    assert params["state"] == "nonce-123"
    assert params["shop"] == SHOP
    message = "&".join(f"{key}={params[key]}" for key in sorted(params) if key != "hmac")
    expected = hmac.new(API_SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()
    assert hmac.compare_digest(params["hmac"], expected)
    grant = {"client_id": API_KEY, "client_secret": API_SECRET, "code": params["code"]}
    response = requests.post(
        f"{store.shop_url(SHOP)}/admin/oauth/access_token", data=grant, timeout=10
    )
    assert response.status_code == 200
    assert Admin(store, response.json()["access_token"])(SHOP_QUERY)["data"]["shop"]
    reused = requests.post(
        f"{store.shop_url(SHOP)}/admin/oauth/access_token", data=grant, timeout=10
    )
    assert reused.status_code == 400


def test_refresh_grace_ends_after_30_days():
    from integrations.shopify.devstore.auth import OAuthError, TokenAuthority

    now = [1_000_000.0]
    authority = TokenAuthority(
        API_KEY,
        API_SECRET,
        "read_products",
        shop_exists=lambda shop: True,
        clock=lambda: now[0],
        refresh_grace=True,
    )
    first = authority.install(SHOP, expiring=True)
    grant = {"client_id": API_KEY, "client_secret": API_SECRET, "grant_type": "refresh_token"}
    authority.token_request({**grant, "refresh_token": first["refresh_token"]}, SHOP)
    now[0] += 29 * 24 * 3600
    authority.token_request({**grant, "refresh_token": first["refresh_token"]}, SHOP)
    now[0] += 2 * 24 * 3600
    with pytest.raises(OAuthError, match="retry window") as raised:
        authority.token_request({**grant, "refresh_token": first["refresh_token"]}, SHOP)
    assert raised.value.body["error"] == "invalid_grant"

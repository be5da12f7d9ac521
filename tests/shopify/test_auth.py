"""Install, token exchange, refresh, revocation and session tokens against the dev store."""

import time
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import shopify_app
from django.db import connection
from django.utils import timezone

from integrations.shopify.auth import (
    query_hmac,
    shop_access_token,
    shop_install_from_callback,
)
from integrations.shopify.client import ShopifyClient
from integrations.shopify.endpoints import shopify_http_client
from integrations.shopify.errors import OAuthCallbackError, ShopNotConnected
from integrations.shopify.models import OAuthState
from tests.shopify.conftest import API_KEY, API_SECRET, SHOP, install_shop
from wearview.catalog.models import Shop


def _raw_column(shop_id: int, column: str) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM catalog_shop WHERE id = %s", [shop_id])
        return cursor.fetchone()[0]


def test_token_exchange_stores_expiring_token(db, devstore):
    shop = install_shop(devstore)
    assert shop.is_installed
    assert shop.access_token.startswith("shpat_")
    assert shop.refresh_token.startswith("shprt_")
    assert shop.access_token_expires_at > timezone.now() + timedelta(minutes=30)
    assert shop.refresh_token_expires_at > timezone.now() + timedelta(days=30)
    assert _raw_column(shop.pk, "access_token").startswith("fernet:")
    assert shop.access_token not in _raw_column(shop.pk, "access_token")
    assert "read_products" in shop.scopes


def test_refresh_rotates_and_keeps_newest(db, devstore):
    shop = install_shop(devstore)
    old_access, old_refresh = shop.access_token, shop.refresh_token
    Shop.objects.filter(pk=shop.pk).update(
        access_token_expires_at=timezone.now() + timedelta(seconds=30)
    )
    shop.refresh_from_db()

    token = shop_access_token(shop=shop)

    shop.refresh_from_db()
    assert token == shop.access_token != old_access
    assert shop.refresh_token != old_refresh
    assert shop.access_token_expires_at > timezone.now() + timedelta(minutes=30)
    # The old refresh token was used up by the rotation.
    with shopify_http_client() as http:
        reuse = shopify_app.refresh_access_token(
            {
                "shop": SHOP.removesuffix(".myshopify.com"),
                "refresh_token": old_refresh,
                "expires": "",
                "refresh_token_expires": "",
                "access_mode": "offline",
            },
            {"client_id": API_KEY, "client_secret": API_SECRET},
            http,
        )
    assert not reuse.ok
    assert ShopifyClient(shop).execute("shop").data["shop"]["myshopifyDomain"] == SHOP


def test_client_refreshes_expiring_token(db, devstore):
    shop = install_shop(devstore)
    first = shop.access_token
    Shop.objects.filter(pk=shop.pk).update(access_token_expires_at=timezone.now())
    shop.refresh_from_db()
    result = ShopifyClient(shop).execute("shop")
    assert result.data["shop"]["myshopifyDomain"] == SHOP
    shop.refresh_from_db()
    assert shop.access_token != first


def test_revoked_token_handled_state(db, devstore):
    shop = install_shop(devstore)
    devstore.uninstall(SHOP)
    client = ShopifyClient(shop, sleep=lambda s: None)
    with pytest.raises(ShopNotConnected, match=SHOP):
        client.execute("shop")
    shop.refresh_from_db()
    assert shop.auth_failed_at is not None
    requests_before = client.stats.requests
    with pytest.raises(ShopNotConnected):
        ShopifyClient(shop).execute("shop")
    with pytest.raises(ShopNotConnected):
        client.execute("shop")
    # The rejected shop is not sent to Shopify again.
    assert client.stats.requests == requests_before


def _authorize(client, devstore) -> dict:
    response = client.get("/shopify/install", {"shop": SHOP})
    assert response.status_code == 302
    grant = requests.get(response["Location"], allow_redirects=False, timeout=10)
    assert grant.status_code == 302
    query = parse_qs(urlsplit(grant.headers["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def test_authorization_code_install(db, devstore, client):
    devstore.add_shop(SHOP)
    params = _authorize(client, devstore)
    response = client.get("/shopify/callback", params)
    assert response.status_code == 200
    shop = Shop.objects.get(domain=SHOP)
    assert shop.is_installed
    assert shop.access_token.startswith("shpat_")
    assert shop.access_token_expires_at is not None
    assert OAuthState.objects.get().used_at is not None
    topics = {s.topic for s in devstore.shop(SHOP).subscriptions.values()}
    assert "PRODUCTS_UPDATE" in topics
    assert "APP_UNINSTALLED" in topics


def test_authorization_code_replay_rejected(db, devstore, client):
    devstore.add_shop(SHOP)
    params = _authorize(client, devstore)
    assert client.get("/shopify/callback", params).status_code == 200
    replay = client.get("/shopify/callback", params)
    assert replay.status_code == 400
    assert "state" in replay.content.decode()


def test_authorization_code_bad_hmac(db, devstore, client):
    devstore.add_shop(SHOP)
    params = _authorize(client, devstore)
    params["code"] = params["code"][:-1] + ("0" if params["code"][-1] != "0" else "1")
    with pytest.raises(OAuthCallbackError, match="hmac"):
        shop_install_from_callback(params=params)
    assert not Shop.objects.filter(domain=SHOP, installed_at__isnull=False).exists()


def test_authorization_code_old_timestamp(db, devstore, client):
    devstore.add_shop(SHOP)
    params = _authorize(client, devstore)
    params["timestamp"] = str(int(time.time()) - 3600)
    params["hmac"] = query_hmac(params, API_SECRET)
    with pytest.raises(OAuthCallbackError, match="timestamp"):
        shop_install_from_callback(params=params)


def test_authorization_code_state_of_other_shop(db, devstore, client):
    devstore.add_shop(SHOP)
    params = _authorize(client, devstore)
    OAuthState.objects.update(shop_domain="other-shop.myshopify.com")
    with pytest.raises(OAuthCallbackError, match="state"):
        shop_install_from_callback(params=params)


# --- session tokens ------------------------------------------------------------------------------


def _session(client, token: str):
    return client.get("/shopify/session", headers={"Authorization": f"Bearer {token}"})


def test_session_token_valid(db, devstore, client):
    install_shop(devstore)
    response = _session(client, devstore.mint_session_token(SHOP))
    assert response.status_code == 200
    assert response.json()["shop"] == SHOP


SESSION_CASES = {
    "expired": {"lifetime": -30},
    "wrong_audience": {"audience": "another-app"},
    "wrong_signature": {"secret": "not-the-app-secret-but-long-enough-0123"},
    "iss_dest_mismatch": {"issuer_shop": "other-shop.myshopify.com"},
}


@pytest.mark.parametrize("case", sorted(SESSION_CASES))
def test_session_token_rejected_401(db, devstore, client, case):
    install_shop(devstore)
    token = devstore.mint_session_token(SHOP, **SESSION_CASES[case])
    response = _session(client, token)
    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_session_token_shop_not_installed_401(db, devstore, client):
    devstore.add_shop(SHOP)
    response = _session(client, devstore.mint_session_token(SHOP))
    assert response.status_code == 401


def test_session_token_uninstalled_shop_401(db, devstore, client):
    shop = install_shop(devstore)
    Shop.objects.filter(pk=shop.pk).update(uninstalled_at=timezone.now())
    assert _session(client, devstore.mint_session_token(SHOP)).status_code == 401


def test_session_token_missing_401(db, devstore, client):
    assert client.get("/shopify/session").status_code == 401
    assert client.get("/shopify/session", headers={"Authorization": "Basic abc"}).status_code == 401


def test_token_exchange_view_installs(db, devstore, client):
    devstore.add_shop(SHOP)
    token = devstore.mint_session_token(SHOP)
    response = client.post("/shopify/token-exchange", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200
    assert Shop.objects.get(domain=SHOP).is_installed


def test_token_exchange_view_rejects_expired(db, devstore, client):
    devstore.add_shop(SHOP)
    token = devstore.mint_session_token(SHOP, lifetime=-30)
    response = client.post("/shopify/token-exchange", headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401
    assert not Shop.objects.filter(domain=SHOP).exists()

import base64
import hashlib
import hmac
import time

import jwt
import pytest

from integrations.shopify.auth import query_hmac
from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import SessionTokenError
from integrations.shopify.session_tokens import verify_session_token_claims
from tests.shopify.conftest import API_KEY, API_SECRET

SPOOFED = [
    "evil.com",
    "evil.com#.myshopify.com",
    "x.myshopify.com.evil.com",
    "@evil.com",
    "x.myshopify.com@evil.com",
    "WEARVIEW.myshopify.com",
    "Wearview.myshopify.com",
    "wearview.myshopify.com.",
    "wearview.myshopify.com..",
    "-wearview.myshopify.com",
    "wearview.myshopify.com/admin",
    "wearview.myshopify.com:443",
    "https://wearview.myshopify.com",
    "wearview.myshopify.com\n",
    " wearview.myshopify.com",
    "",
]


@pytest.mark.parametrize("domain", SPOOFED)
def test_normalize_shop_domain_rejects_spoofing(domain):
    with pytest.raises(InvalidShopDomain):
        normalize_shop_domain(domain)


def test_normalize_shop_domain_accepts_shop():
    assert normalize_shop_domain("wearview-2.myshopify.com") == "wearview-2.myshopify.com"


@pytest.mark.parametrize("domain", SPOOFED)
def test_webhook_view_rejects_spoofed_shop_header(db, shopify_settings, client, domain):
    body = b'{"id":1}'
    signature = base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest())
    response = client.post(
        "/shopify/webhooks",
        data=body,
        content_type="application/json",
        headers={
            "X-Shopify-Hmac-Sha256": signature.decode(),
            "X-Shopify-Topic": "products/update",
            "X-Shopify-Shop-Domain": domain,
            "X-Shopify-Webhook-Id": "spoof-1",
        },
    )
    assert response.status_code == 400
    from integrations.shopify.models import WebhookDelivery

    assert not WebhookDelivery.objects.exists()


@pytest.mark.parametrize("domain", SPOOFED)
def test_install_view_rejects_spoofed_shop(db, shopify_settings, client, domain):
    response = client.get("/shopify/install", {"shop": domain})
    assert response.status_code == 400
    from integrations.shopify.models import OAuthState

    assert not OAuthState.objects.exists()


@pytest.mark.parametrize("domain", SPOOFED)
def test_callback_view_rejects_spoofed_shop(db, shopify_settings, client, domain):
    params = {"code": "abc", "shop": domain, "state": "s", "timestamp": str(int(time.time()))}
    params["hmac"] = query_hmac(params, API_SECRET)
    response = client.get("/shopify/callback", params)
    assert response.status_code == 400
    assert "Invalid shop domain" in response.content.decode()


@pytest.mark.parametrize("domain", SPOOFED)
def test_session_token_rejects_spoofed_dest(shopify_settings, domain):
    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": API_KEY,
        "sub": "1",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
    }
    token = jwt.encode(claims, API_SECRET, algorithm="HS256")
    with pytest.raises(SessionTokenError):
        verify_session_token_claims(token)

"""Security scenarios: forged, replayed and unsigned webhooks; bad session tokens; bad OAuth
callbacks; one shop reaching another shop's objects on every route; tokens at rest; the admin
login; where uploaded images are served from."""

from __future__ import annotations

import json
import time
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.db import connection
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from django.utils import timezone

from integrations.shopify.auth import query_hmac
from integrations.shopify.devstore.auth import sign_webhook_body
from integrations.shopify.models import OAuthState, WebhookDelivery
from tests.review.conftest import job_in_review, published_job, session_token
from tests.shopify.conftest import API_SECRET, SHOP, start_devstore
from wearview.catalog.models import Shop
from wearview.studio.models import Candidate, GenerationJob
from wearview.studio.views import form_token_issue

pytestmark = pytest.mark.reliability

WEBHOOK_URL = "/shopify/webhooks"


def _webhook_headers(body: bytes, *, webhook_id: str, secret: str | None = API_SECRET) -> dict:
    headers = {
        "HTTP_X_SHOPIFY_TOPIC": "products/update",
        "HTTP_X_SHOPIFY_SHOP_DOMAIN": SHOP,
        "HTTP_X_SHOPIFY_WEBHOOK_ID": webhook_id,
        "HTTP_X_SHOPIFY_EVENT_ID": webhook_id,
        "HTTP_X_SHOPIFY_API_VERSION": "2026-10",
    }
    if secret is not None:
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sign_webhook_body(secret, body)
    return headers


def _product_body(number: int = 1) -> bytes:
    return json.dumps(
        {"id": number, "title": "Shirt", "updated_at": "2026-12-01T10:00:00Z"}
    ).encode()


@pytest.fixture
def webhook_client(client, shopify_settings, db, monkeypatch):
    # The deliveries are recorded; the work they would start is not under test here.
    from integrations.shopify import tasks

    monkeypatch.setattr(tasks.process_webhook_task, "delay", lambda *args: None)
    return client


# --- webhooks ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "case",
    ["wrong_secret", "unsigned", "empty_signature", "tampered_body", "signature_of_other_body"],
)
def test_webhook_forged_rejected(webhook_client, case):
    body = _product_body()
    headers = _webhook_headers(body, webhook_id=f"forged-{case}")
    if case == "wrong_secret":
        headers = _webhook_headers(body, webhook_id="forged", secret="not-the-app-secret-000")
    elif case == "unsigned":
        headers = _webhook_headers(body, webhook_id="forged", secret=None)
    elif case == "empty_signature":
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = ""
    elif case == "tampered_body":
        body = body.replace(b"Shirt", b"Shirts")
    elif case == "signature_of_other_body":
        headers["HTTP_X_SHOPIFY_HMAC_SHA256"] = sign_webhook_body(API_SECRET, _product_body(2))

    response = webhook_client.post(
        WEBHOOK_URL, data=body, content_type="application/json", **headers
    )

    assert response.status_code == 401
    assert WebhookDelivery.objects.count() == 0


def test_webhook_replayed_id_recorded_once(webhook_client):
    body = _product_body()
    headers = _webhook_headers(body, webhook_id="replayed-1")

    first = webhook_client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)
    again = [
        webhook_client.post(WEBHOOK_URL, data=body, content_type="application/json", **headers)
        for _ in range(3)
    ]

    assert first.status_code == 200
    assert [r.status_code for r in again] == [200, 200, 200]
    assert WebhookDelivery.objects.filter(webhook_id="replayed-1").count() == 1


def test_webhook_spoofed_shop_header_rejected(webhook_client):
    body = _product_body()
    headers = _webhook_headers(body, webhook_id="spoofed")
    headers["HTTP_X_SHOPIFY_SHOP_DOMAIN"] = "wearview-test.myshopify.com.attacker.example"

    response = webhook_client.post(
        WEBHOOK_URL, data=body, content_type="application/json", **headers
    )

    assert response.status_code == 400
    assert WebhookDelivery.objects.count() == 0


# --- session tokens ------------------------------------------------------------------------------


@pytest.fixture
def two_shops(db, shopify_settings, settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    settings.ROOT_URLCONF = "wearview.urls"
    now = timezone.now()
    own = Shop.objects.create(domain="own-shop.myshopify.com", installed_at=now)
    other = Shop.objects.create(domain="other-shop.myshopify.com", installed_at=now)
    return own, other


def _bad_session_tokens(domain: str) -> dict[str, str]:
    return {
        "forged": session_token(domain, secret="a-secret-that-is-not-the-app-secret"),
        "expired": session_token(domain, ttl=-600),
        "other_app": session_token(domain, aud="another-app-api-key"),
        "not_yet_valid": session_token(domain, nbf=int(time.time()) + 600),
        "iss_other_shop": session_token(domain, iss="https://other-shop.myshopify.com/admin"),
        "dest_not_a_shop": session_token(
            domain, dest="https://attacker.example", iss="https://attacker.example/admin"
        ),
        "alg_none": _unsigned_token(domain),
    }


def _unsigned_token(domain: str) -> str:
    import base64

    def part(data: dict) -> str:
        raw = json.dumps(data).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    now = int(time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": "wearview-test-app",
        "sub": "42",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": "unsigned",
        "sid": "s",
    }
    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


@pytest.mark.parametrize(
    "case",
    [
        "forged",
        "expired",
        "other_app",
        "not_yet_valid",
        "iss_other_shop",
        "dest_not_a_shop",
        "alg_none",
    ],
)
def test_session_token_bad_rejected(client, two_shops, case):
    own, _ = two_shops
    token = _bad_session_tokens(own.domain)[case]
    auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    for url in ("/shopify/session", reverse("studio_app:api_overview")):
        response = client.get(url, **auth)
        assert response.status_code == 401, (case, url)


def test_session_token_uninstalled_shop_rejected(client, two_shops):
    own, _ = two_shops
    token = session_token(own.domain)
    Shop.objects.filter(pk=own.pk).update(uninstalled_at=timezone.now(), access_token="")

    for url in ("/shopify/session", reverse("studio_app:api_overview")):
        response = client.get(url, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 401, url
    form = client.get(
        reverse("studio_app:overview"), {"form_token": form_token_issue(shop=own, user_id="42")}
    )
    assert form.status_code == 401


# --- OAuth callbacks -----------------------------------------------------------------------------


@pytest.fixture
def oauth_store(db, shopify_settings):
    store = start_devstore(shopify_settings)
    store.add_shop(SHOP)
    yield store
    store.stop()


def _authorize(client) -> dict:
    response = client.get("/shopify/install", {"shop": SHOP})
    assert response.status_code == 302
    grant = requests.get(response["Location"], allow_redirects=False, timeout=10)
    query = parse_qs(urlsplit(grant.headers["Location"]).query)
    return {key: values[0] for key, values in query.items()}


def _installed() -> bool:
    return Shop.objects.filter(domain=SHOP, installed_at__isnull=False).exists()


def test_oauth_callback_bad_hmac_rejected(client, oauth_store):
    params = _authorize(client)
    params["hmac"] = "0" * 64

    response = client.get("/shopify/callback", params)

    assert response.status_code == 400
    assert not _installed()


def test_oauth_callback_reused_state_rejected(client, oauth_store):
    params = _authorize(client)
    assert client.get("/shopify/callback", params).status_code == 200
    Shop.objects.filter(domain=SHOP).delete()

    replay = client.get("/shopify/callback", params)

    assert replay.status_code == 400
    assert not Shop.objects.filter(domain=SHOP).exists()


@pytest.mark.parametrize(
    "spoofed",
    [
        "attacker.example",
        "wearview-test.myshopify.com.attacker.example",
        "wearview-test.myshopify.com@attacker.example",
        "attacker.example/wearview-test.myshopify.com",
        "wearview-test.myshopify.com:443",
        "../wearview-test.myshopify.com",
        "",
    ],
)
def test_oauth_callback_spoofed_shop_rejected(client, oauth_store, spoofed):
    params = _authorize(client)
    params["shop"] = spoofed
    # Signed with the app secret, so only the shop check can reject it.
    params["hmac"] = query_hmac(params, API_SECRET)
    OAuthState.objects.update(shop_domain=spoofed)

    response = client.get("/shopify/callback", params)

    assert response.status_code == 400
    assert not Shop.objects.exclude(domain=SHOP).exists()
    assert not _installed()


def test_oauth_install_spoofed_shop_rejected(client, oauth_store):
    response = client.get("/shopify/install", {"shop": "attacker.example"})

    assert response.status_code == 400
    assert not OAuthState.objects.exists()


# --- shop isolation on every route ---------------------------------------------------------------


def _studio_routes() -> list[URLPattern]:
    resolver = get_resolver("wearview.urls")
    for entry in resolver.url_patterns:
        if isinstance(entry, URLResolver) and entry.namespace == "studio_app":
            return [p for p in entry.url_patterns if isinstance(p, URLPattern)]
    raise AssertionError("the studio_app namespace is not in wearview.urls")


def test_every_route_keeps_other_shops_objects_out(client, two_shops):
    own, other = two_shops
    foreign = job_in_review(other, title="Foreign linen dress")
    _, foreign_publication = published_job(other)
    foreign_candidate = foreign.candidates[0]
    before = {job.pk: job.state for job in GenerationJob.objects.filter(shop=other).only("state")}
    token = session_token(own.domain)
    form_token = form_token_issue(shop=own, user_id="42")
    checked = []

    for pattern in _studio_routes():
        name = pattern.name
        keys = list(pattern.pattern.converters)
        if name in ("media", "bounce"):
            continue
        args = []
        for key in keys:
            args.append(foreign_candidate.pk if key == "candidate_id" else foreign.job.pk)
        url = reverse(f"studio_app:{name}", args=args)
        api = name.startswith("api_")
        for method in ("get", "post"):
            if api:
                body = json.dumps({"product_ids": [foreign.job.product_id], "reason": "x"})
                response = getattr(client, method)(
                    url,
                    body if method == "post" else None,
                    content_type="application/json",
                    HTTP_AUTHORIZATION=f"Bearer {token}",
                )
            else:
                data = {
                    "form_token": form_token,
                    "product_ids": [foreign.job.product_id],
                    "reason": "x",
                }
                response = getattr(client, method)(url, data)
            if response.status_code in (405,):
                continue
            text = response.content.decode(errors="replace")
            checked.append((method, name, response.status_code))
            assert "Foreign linen dress" not in text, (method, name)
            if keys:
                assert response.status_code == 404, (method, name, response.status_code)
            else:
                # A list returns this shop's rows only, and an action on foreign ids finds nothing.
                assert response.status_code in (200, 302, 400, 404), (method, name)

    after = {job.pk: job.state for job in GenerationJob.objects.filter(shop=other).only("state")}
    assert after == before
    assert not GenerationJob.objects.filter(shop=own).exists()
    foreign_publication.refresh_from_db()
    assert foreign_publication.status == "ready"
    # Every object route was reached with at least one method.
    reached = {name for _, name, _ in checked}
    object_routes = {p.name for p in _studio_routes() if p.pattern.converters} - {"media"}
    assert object_routes <= reached


def test_media_route_never_serves_a_chosen_path(client, two_shops, settings, tmp_path):
    own, _ = two_shops
    secret_file = tmp_path / "outside.txt"
    secret_file.write_text("not an upload")
    built = job_in_review(own)
    # A candidate whose stored name was tampered with to point outside storage.
    Candidate.objects.filter(pk=built.candidates[0].pk).update(image="../../outside.txt")
    from django.core import signing

    from wearview.studio.views import MEDIA_SALT

    for kind in ("candidate", "candidate-full", "source", "overlay"):
        url_token = signing.dumps(
            [own.pk, kind, built.candidates[0].pk], salt=MEDIA_SALT, compress=True
        )
        response = client.get(reverse("studio_app:media", args=[url_token]))
        body = b"".join(response) if response.streaming else response.content
        assert b"not an upload" not in body, kind
    for path in (
        "/media/../outside.txt",
        f"/media/{built.candidates[1].image}",
        "/app/media/..%2F..%2Foutside.txt",
    ):
        response = client.get(path)
        assert response.status_code == 404, path


# --- tokens at rest, admin -----------------------------------------------------------------------


def test_tokens_encrypted_at_rest(db, shopify_settings):
    access = "shpat_reliability_access_token_0123456789"
    refresh = "shprt_reliability_refresh_token_0123456789"
    shop = Shop.objects.create(
        domain="at-rest.myshopify.com",
        installed_at=timezone.now(),
        access_token=access,
        refresh_token=refresh,
    )
    table = Shop._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT access_token, refresh_token FROM {table} WHERE id = %s",  # noqa: S608
            [shop.pk],
        )
        raw_access, raw_refresh = cursor.fetchone()

    assert access not in raw_access
    assert refresh not in raw_refresh
    assert raw_access
    assert raw_refresh
    stored = Shop.objects.get(pk=shop.pk)
    assert (stored.access_token, stored.refresh_token) == (access, refresh)


@pytest.mark.parametrize("who", ["anonymous", "not_staff"])
def test_admin_requires_staff_login(client, db, django_user_model, who):
    if who == "not_staff":
        user = django_user_model.objects.create_user("merchant", password="a-long-password-1")
        client.force_login(user)
    for name in (
        "admin:index",
        "admin:studio_candidate_changelist",
        "admin:catalog_shop_changelist",
    ):
        response = client.get(reverse(name))
        assert response.status_code == 302, name
        assert "/admin/login/" in response["Location"], name
    shop_admin = client.get(reverse("admin:catalog_shop_changelist"), follow=True)
    assert b"shpat_" not in shop_admin.content

"""The embedded review page in headless Chromium against a running server and the dev store.

Shopify's CDN is out of reach here, so the page runs as plain HTML: the test also proves that
the fallback carries the whole approve-and-publish path. Screenshots go to test-artifacts/.
"""

import io
import os
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from PIL import Image

from wearview.catalog.models import ImageOrigin, Product, ProductImage
from wearview.studio.models import Candidate, GenerationJob, JobState, Publication
from wearview.studio.services import job_create, job_transition

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
API_KEY = "wearview-browser-test-app"
API_SECRET = "wearview-browser-test-secret-7d41c0e9a2b85f36"
SHOP = "browser-test.myshopify.com"


@pytest.fixture
def chromium_path():
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing; install Debian's chromium package to run this test")
    return CHROMIUM


@pytest.fixture
def devstore_shop(settings, tmp_path):
    """A dev store on 127.0.0.1 with one seeded product, the app installed and synced."""
    from integrations.shopify import client as client_module
    from integrations.shopify.auth import shop_install_with_session_token
    from integrations.shopify.devstore import DevStore, write_sample_catalog
    from integrations.shopify.sync import shop_sync_pages
    from wearview.celery import app

    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = API_SECRET
    settings.SHOPIFY_HTTP_TIMEOUT = 5.0
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    client_module.forget_buckets()
    previous_eager = app.conf.task_always_eager
    app.conf.task_always_eager = True
    store = DevStore(API_KEY, API_SECRET, media_processing_seconds=0.05)
    settings.SHOPIFY_ADMIN_BASE_URL = store.start()
    try:
        csv_path = write_sample_catalog(
            tmp_path / "catalog", products=1, variants_per_product=2, images_per_product=2
        )
        store.add_shop(SHOP, csv=csv_path, images=tmp_path / "catalog" / "images")
        shop = shop_install_with_session_token(session_token=store.mint_session_token(SHOP))
        shop_sync_pages(shop=shop)
        yield store, shop
    finally:
        store.stop()
        app.conf.task_always_eager = previous_eager


@pytest.fixture
def publish_inline(monkeypatch):
    """Run sent Celery tasks in the sending thread, so a click publishes before it returns."""
    from integrations.shopify import tasks as shopify_tasks  # noqa: F401 - registers the tasks
    from wearview.celery import app

    sent = []

    def send_task(name, args=None, **options):
        sent.append(name)
        return app.tasks[name].apply(args=args)

    monkeypatch.setattr(app, "send_task", send_task)
    return sent


def _jpeg(colour: tuple[int, int, int]) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (240, 300), colour).save(buffer, format="JPEG", quality=90)
    return buffer.getvalue()


def _job_in_review(shop) -> tuple[GenerationJob, list[Candidate]]:
    product = Product.objects.filter(shop=shop).first()
    source = ProductImage.objects.filter(product=product).order_by("position").first()
    job, _ = job_create(
        product=product,
        source_image=source,
        variants=list(product.variants.all()),
        preset="restyle",
        prompt="photo of a model wearing the garment",
        parameters={"seeds": [11, 23]},
        requested_by="test",
    )
    for state in (JobState.PREPARING, JobState.GENERATING, JobState.IN_REVIEW):
        job_transition(job_id=job.pk, to_state=state, actor="test")
    candidates = []
    for rank, colour in enumerate([(40, 70, 160), (150, 60, 40)]):
        key = default_storage.save(f"jobs/{job.pk}/r1/c{rank}.jpg", ContentFile(_jpeg(colour)))
        candidates.append(
            Candidate.objects.create(
                job=job,
                image=key,
                thumbnail=key,
                seed=11 + rank,
                garment_strength=0.06,
                background_strength=0.5,
                score=0.94 - rank * 0.3,
                passed=rank == 0,
                failure_reason="" if rank == 0 else "garment edge moved by 9 px",
                rank=rank,
            )
        )
    return job, candidates


def _drive(base_url: str, token: str, candidate_id: int, job_id: int) -> dict:
    """Open the review page, approve and publish; runs in its own thread with its own loop."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Shopify's CDN cannot be reached offline; fail its scripts at once instead of
            # waiting for DNS, as a blocked network would.
            page.route("https://cdn.shopify.com/**", lambda route: route.abort())
            response = page.goto(f"{base_url}/app/review?shop={SHOP}&host=test&id_token={token}")
            page.wait_for_load_state("networkidle")
            seen["status"] = response.status
            seen["csp"] = response.headers.get("content-security-policy")
            page.screenshot(path=str(ARTIFACTS / "review-1-queue.png"), full_page=True)

            page.click(f"#wv-candidate-{candidate_id} button[data-action=approve]")
            page.wait_for_selector("#wv-notice")
            page.wait_for_load_state("networkidle")
            seen["approve_notice"] = page.inner_text("#wv-notice")
            page.screenshot(path=str(ARTIFACTS / "review-2-approved.png"), full_page=True)

            page.click(f"#wv-job-{job_id} button[data-action=publish]")
            page.wait_for_selector("#wv-notice")
            seen["publish_notice"] = page.inner_text("#wv-notice")

            page.click("a[data-nav=published]")
            page.wait_for_selector("table")
            page.wait_for_load_state("networkidle")
            seen["published_page"] = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "review-3-published.png"), full_page=True)

            page.click("a[data-nav=overview]")
            page.wait_for_selector("#wv-counts")
            seen["published_count"] = page.inner_text("[data-count=published]")
            page.screenshot(path=str(ARTIFACTS / "review-5-overview.png"), full_page=True)
            page.click("a[data-nav=settings]")
            page.wait_for_selector("#wv-settings")
            page.screenshot(path=str(ARTIFACTS / "review-6-settings.png"), full_page=True)
        finally:
            browser.close()
    return seen


def test_browser_review_approve_and_publish(
    chromium_path, live_server, devstore_shop, publish_inline
):
    store, shop = devstore_shop
    job, candidates = _job_in_review(shop)
    token = store.mint_session_token(SHOP)

    # Playwright's sync API runs an event loop, and Django refuses database access under a
    # running loop. A thread of its own keeps the loop away from the test's connection.
    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(_drive, live_server.url, token, candidates[0].pk, job.pk).result(
            timeout=120
        )

    assert seen["status"] == 200
    assert seen["csp"] == f"frame-ancestors https://{SHOP} https://admin.shopify.com;"
    assert f"Candidate {candidates[0].pk} approved" in seen["approve_notice"]
    assert "being published" in seen["publish_notice"]
    assert "Ready" in seen["published_page"]
    assert seen["published_count"] == "1"

    job.refresh_from_db()
    assert job.state == JobState.PUBLISHED
    assert job.approved_candidate_id == candidates[0].pk
    publication = Publication.objects.get(candidate=candidates[0])
    assert publication.shopify_media_id
    assert publication.alt_text == shop.disclosure_text
    assert publication_in_store(store, publication.shopify_media_id)
    assert ProductImage.objects.filter(
        shop=shop, shopify_media_id=publication.shopify_media_id, origin=ImageOrigin.WEARVIEW
    ).exists()
    assert "integrations.shopify.tasks.publish_publication_task" in publish_inline
    for name in ("review-1-queue.png", "review-2-approved.png", "review-3-published.png"):
        assert (ARTIFACTS / name).stat().st_size > 0


def publication_in_store(store, media_gid: str) -> bool:
    """Whether the dev store's product carries the published media, READY."""
    media_id = int(media_gid.rsplit("/", 1)[-1])
    dev_shop = store.shop(SHOP)
    for product in dev_shop.products.values():
        if media_id in product.media_ids:
            return dev_shop.files[media_id].status == "READY"
    return False


# A stand-in for App Bridge's global: the real script comes from Shopify's CDN, which tests
# cannot reach. It hands out the test's session token and records toasts.
APP_BRIDGE_STUB = """
window.shopify = {
  idToken: async function () { return %s; },
  toast: { show: function (message) { window.wvToasts = (window.wvToasts || []).concat(message); } }
};
"""


def _drive_with_app_bridge(base_url: str, token: str, candidate_id: int, job_id: int) -> dict:
    """Approve and publish with App Bridge present: the page's script calls the JSON routes."""
    import json

    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    seen: dict = {"api_calls": []}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            # Playwright tries the routes registered last first, so the stub comes second.
            page.route("https://cdn.shopify.com/**", lambda route: route.abort())
            page.route(
                "https://cdn.shopify.com/shopifycloud/app-bridge.js",
                lambda route: route.fulfill(
                    content_type="text/javascript", body=APP_BRIDGE_STUB % json.dumps(token)
                ),
            )
            page.on(
                "request",
                lambda request: (
                    seen["api_calls"].append(
                        (request.method, request.url, request.headers.get("authorization", ""))
                    )
                    if "/app/api/" in request.url
                    else None
                ),
            )
            page.goto(f"{base_url}/app/review?shop={SHOP}&host=test&id_token={token}")
            page.wait_for_load_state("networkidle")

            with page.expect_navigation():
                page.click(f"#wv-candidate-{candidate_id} button[data-action=approve]")
            page.wait_for_load_state("networkidle")
            with page.expect_navigation():
                page.click(f"#wv-job-{job_id} button[data-action=publish]")
            page.wait_for_load_state("networkidle")
            seen["review_page"] = page.inner_text("body")
            page.screenshot(path=str(ARTIFACTS / "review-4-app-bridge.png"), full_page=True)
        finally:
            browser.close()
    return seen


def test_browser_app_bridge_uses_json_routes(
    chromium_path, live_server, devstore_shop, publish_inline
):
    store, shop = devstore_shop
    job, candidates = _job_in_review(shop)
    token = store.mint_session_token(SHOP)

    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(
            _drive_with_app_bridge, live_server.url, token, candidates[0].pk, job.pk
        ).result(timeout=120)

    calls = [
        (method, url.split(live_server.url)[-1], auth) for method, url, auth in seen["api_calls"]
    ]
    assert calls == [
        ("POST", f"/app/api/candidates/{candidates[0].pk}/approve", f"Bearer {token}"),
        ("POST", f"/app/api/jobs/{job.pk}/publish", f"Bearer {token}"),
    ]
    job.refresh_from_db()
    assert job.state == JobState.PUBLISHED
    publication = Publication.objects.get(candidate=candidates[0])
    assert publication_in_store(store, publication.shopify_media_id)
    assert "Nothing is waiting for review" in seen["review_page"]


def _drive_admin(base_url: str, candidate_id: int) -> dict:
    """Log in to the admin, open the review queue and a candidate, and move the slider."""
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    seen: dict = {}
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.goto(f"{base_url}/admin/login/?next=/admin/studio/candidate/")
            page.fill("#id_username", "operator")
            page.fill("#id_password", "operator-password")
            page.click("input[type=submit]")
            page.wait_for_selector("#result_list")
            page.wait_for_load_state("networkidle")
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.wv-thumbs img')).every(img => img.complete)"
            )
            seen["thumbnails_loaded"] = page.evaluate(
                "Array.from(document.querySelectorAll('.wv-thumbs img'))"
                ".filter(img => img.complete && img.naturalWidth > 0).length"
            )
            page.screenshot(path=str(ARTIFACTS / "admin-1-queue.png"), full_page=True)

            page.goto(f"{base_url}/admin/studio/candidate/{candidate_id}/change/")
            page.wait_for_load_state("networkidle")
            page.fill("#wv-slider", "20")
            page.dispatch_event("#wv-slider", "input")
            seen["slider_width"] = page.evaluate("document.getElementById('wv-top').style.width")
            page.screenshot(path=str(ARTIFACTS / "admin-2-detail.png"), full_page=True)
        finally:
            browser.close()
    return seen


def test_browser_admin_queue_and_detail(chromium_path, live_server, settings, tmp_path):
    from django.contrib.auth.models import User

    from tests.factories import make_shop
    from tests.review.conftest import job_in_review

    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    User.objects.create_superuser("operator", "operator@example.test", "operator-password")
    built = job_in_review(make_shop(), title="Slider blouse")

    with ThreadPoolExecutor(max_workers=1) as pool:
        seen = pool.submit(_drive_admin, live_server.url, built.candidates[0].pk).result(
            timeout=120
        )

    # Two candidates, each with its source, mask overlay and candidate thumbnail.
    assert seen["thumbnails_loaded"] == 6
    assert seen["slider_width"] == "20%"

"""The embedded app: session tokens, shop isolation, CSP headers and each action."""

import json

import pytest
from django.core import signing
from django.urls import reverse
from django.utils import timezone

from tests.review.conftest import job_in_review, published_job, session_token
from wearview.studio.models import (
    Candidate,
    CandidateStatus,
    GenerationJob,
    JobState,
    Publication,
)
from wearview.studio.services import job_transition
from wearview.studio.views import MEDIA_SALT, form_token_issue

pytestmark = pytest.mark.django_db

PAGES = ["overview", "products", "review", "published", "settings"]


def bearer(shop) -> dict:
    return {"HTTP_AUTHORIZATION": f"Bearer {session_token(shop.domain)}"}


def page_url(name: str, shop, **query) -> str:
    token = session_token(shop.domain)
    params = "&".join(f"{key}={value}" for key, value in query.items())
    return f"{reverse(f'studio_app:{name}')}?shop={shop.domain}&id_token={token}&{params}"


# Session tokens.


def test_page_without_token_returns_401(client, installed_shop):
    response = client.get(reverse("studio_app:review"))
    assert response.status_code == 401
    assert response["Content-Security-Policy"] == "frame-ancestors https://admin.shopify.com;"


def test_page_without_token_with_shop_redirects_to_bounce(client, installed_shop):
    response = client.get(f"{reverse('studio_app:review')}?shop={installed_shop.domain}&host=abc")
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("studio_app:bounce"))
    assert "shopify-reload=%2Fapp%2Freview" in response["Location"]
    assert installed_shop.domain in response["Content-Security-Policy"]


def test_page_expired_token_with_shop_redirects_to_bounce(client, installed_shop):
    token = session_token(installed_shop.domain, ttl=-120)
    response = client.get(
        f"{reverse('studio_app:review')}?shop={installed_shop.domain}&id_token={token}"
    )
    assert response.status_code == 302
    assert token not in response["Location"]


def test_page_uninstalled_shop_returns_401_not_bounce(client, installed_shop):
    installed_shop.uninstalled_at = timezone.now()
    installed_shop.save(update_fields=["uninstalled_at"])
    response = client.get(page_url("review", installed_shop))
    assert response.status_code == 401
    assert "does not have the app installed" in response.content.decode()
    assert installed_shop.domain in response["Content-Security-Policy"]


def test_bounce_page_loads_app_bridge(client, installed_shop, settings):
    response = client.get(f"{reverse('studio_app:bounce')}?shop={installed_shop.domain}")
    body = response.content.decode()
    assert response.status_code == 200
    assert f'<meta name="shopify-api-key" content="{settings.SHOPIFY_API_KEY}">' in body
    assert "https://cdn.shopify.com/shopifycloud/app-bridge.js" in body
    assert response["Content-Security-Policy"] == (
        f"frame-ancestors https://{installed_shop.domain} https://admin.shopify.com;"
    )


@pytest.mark.parametrize(
    "claims",
    [
        {"ttl": -120},
        {"secret": "not-the-app-secret-but-long-enough-for-hs256"},
        {"aud": "another-app"},
        {"iss": "https://other-shop.myshopify.com/admin"},
    ],
    ids=["expired", "wrong-secret", "wrong-audience", "iss-dest-mismatch"],
)
def test_api_invalid_token_returns_401(client, installed_shop, claims):
    token = session_token(installed_shop.domain, **claims)
    response = client.get(reverse("studio_app:api_overview"), HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response["X-Shopify-Retry-Invalid-Session-Request"] == "1"


def test_api_rejects_token_in_query_string(client, installed_shop):
    token = session_token(installed_shop.domain)
    response = client.get(f"{reverse('studio_app:api_overview')}?id_token={token}")
    assert response.status_code == 401


def test_api_uninstalled_shop_returns_401(client, installed_shop):
    installed_shop.uninstalled_at = timezone.now()
    installed_shop.save(update_fields=["uninstalled_at"])
    response = client.get(reverse("studio_app:api_overview"), **bearer(installed_shop))
    assert response.status_code == 401


def test_page_invalid_form_token_returns_401(client, installed_shop):
    response = client.get(f"{reverse('studio_app:review')}?form_token=forged")
    assert response.status_code == 401


# Pages, headers and the fallback.


@pytest.mark.parametrize("name", PAGES)
def test_page_csp_names_requesting_shop(client, installed_shop, other_shop, name, settings):
    for shop in (installed_shop, other_shop):
        response = client.get(page_url(name, shop))
        body = response.content.decode()
        assert response.status_code == 200
        assert response["Content-Security-Policy"] == (
            f"frame-ancestors https://{shop.domain} https://admin.shopify.com;"
        )
        assert "X-Frame-Options" not in response
        assert response["Cache-Control"] == "no-store"
        assert not response.cookies
        assert f'<meta name="shopify-api-key" content="{settings.SHOPIFY_API_KEY}">' in body
        assert '<script src="https://cdn.shopify.com/shopifycloud/app-bridge.js">' in body
        assert "polaris-1.js" in body
        assert 'class="wv-plain-nav"' in body


def test_review_page_lists_only_own_jobs(client, installed_shop, other_shop, media_root):
    own = job_in_review(installed_shop, title="Own linen shirt")
    job_in_review(other_shop, title="Foreign wool coat")
    body = client.get(page_url("review", installed_shop)).content.decode()
    assert "Own linen shirt" in body
    assert "Foreign wool coat" not in body
    for candidate in own.candidates:
        assert reverse("studio_app:approve", args=[candidate.pk]) in body
    assert "garment colour changed" in body


def test_overview_counts_and_progress(client, installed_shop, media_root):
    job_in_review(installed_shop)
    running = job_in_review(installed_shop).job
    job_transition(job_id=running.pk, to_state=JobState.QUEUED, actor="test")
    job_transition(job_id=running.pk, to_state=JobState.PREPARING, actor="test")
    job_transition(job_id=running.pk, to_state=JobState.GENERATING, actor="test")
    GenerationJob.objects.filter(pk=running.pk).update(progress_step=5, progress_total=20)
    response = client.get(reverse("studio_app:api_overview"), **bearer(installed_shop))
    data = response.json()
    assert data["counts"]["waiting_for_review"] == 1
    assert data["counts"]["jobs_in_progress"] == 1
    assert data["counts"]["products_synced"] == 2
    assert data["in_progress"][0]["progress"] == {"step": 5, "total": 20, "percent": 25}
    body = client.get(page_url("overview", installed_shop)).content.decode()
    assert f'data-progress-job="{running.pk}"' in body
    assert 'value="25"' in body


def test_fallback_form_approves_and_publishes(client, installed_shop, media_root, sent_tasks):
    built = job_in_review(installed_shop)
    candidate = built.candidates[0]
    token = form_token_issue(shop=installed_shop, user_id="42")
    response = client.post(
        reverse("studio_app:approve", args=[candidate.pk]), {"form_token": token}
    )
    assert response.status_code == 200
    assert "approved" in response.content.decode()
    assert response["Content-Security-Policy"].startswith(
        f"frame-ancestors https://{installed_shop.domain} "
    )
    built.job.refresh_from_db()
    assert built.job.state == JobState.APPROVED
    assert built.job.approved_candidate_id == candidate.pk

    with_publish = client.post(
        reverse("studio_app:publish", args=[built.job.pk]), {"form_token": token}
    )
    assert with_publish.status_code == 200
    built.job.refresh_from_db()
    assert built.job.state == JobState.PUBLISHING
    assert Publication.objects.filter(candidate=candidate).count() == 1


def test_fallback_form_second_approve_reports_conflict(client, installed_shop, media_root):
    built = job_in_review(installed_shop)
    token = form_token_issue(shop=installed_shop, user_id="42")
    client.post(reverse("studio_app:approve", args=[built.candidates[0].pk]), {"form_token": token})
    response = client.post(
        reverse("studio_app:approve", args=[built.candidates[1].pk]), {"form_token": token}
    )
    assert response.status_code == 409
    assert "approved" in response.content.decode()
    assert Candidate.objects.get(pk=built.candidates[1].pk).status == CandidateStatus.PENDING


# Shop isolation: a token of shop A asking for shop B's objects gets 404 on every route.


def _object_routes(job, candidate):
    return [
        ("get", reverse("studio_app:api_job", args=[job.pk]), {}),
        ("post", reverse("studio_app:api_approve", args=[candidate.pk]), {}),
        ("post", reverse("studio_app:api_reject", args=[job.pk]), {"reason": "x"}),
        ("post", reverse("studio_app:api_regenerate", args=[job.pk]), {}),
        ("post", reverse("studio_app:api_publish", args=[job.pk]), {}),
        ("post", reverse("studio_app:api_withdraw", args=[job.pk]), {}),
        ("post", reverse("studio_app:api_generate"), {"product_ids": [job.product_id]}),
    ]


def _form_routes(job, candidate):
    return [
        reverse("studio_app:approve", args=[candidate.pk]),
        reverse("studio_app:reject", args=[job.pk]),
        reverse("studio_app:regenerate", args=[job.pk]),
        reverse("studio_app:publish", args=[job.pk]),
        reverse("studio_app:withdraw", args=[job.pk]),
        reverse("studio_app:generate"),
    ]


def test_api_other_shop_objects_return_404(client, installed_shop, other_shop, media_root):
    foreign = job_in_review(other_shop)
    for method, url, body in _object_routes(foreign.job, foreign.candidates[0]):
        call = getattr(client, method)
        kwargs = {"content_type": "application/json"} if method == "post" else {}
        response = call(
            url, json.dumps(body) if method == "post" else None, **kwargs, **bearer(installed_shop)
        )
        assert response.status_code == 404, url
    foreign.job.refresh_from_db()
    assert foreign.job.state == JobState.IN_REVIEW
    assert not GenerationJob.objects.filter(shop=installed_shop).exists()


def test_forms_other_shop_objects_return_404(client, installed_shop, other_shop, media_root):
    foreign = job_in_review(other_shop)
    token = form_token_issue(shop=installed_shop, user_id="42")
    for url in _form_routes(foreign.job, foreign.candidates[0]):
        data = {"form_token": token, "product_ids": [foreign.job.product_id], "reason": "x"}
        response = client.post(url, data)
        assert response.status_code == 404, url
        assert installed_shop.domain in response["Content-Security-Policy"]
    foreign.job.refresh_from_db()
    assert foreign.job.state == JobState.IN_REVIEW


def test_api_lists_exclude_other_shop(client, installed_shop, other_shop, media_root):
    job_in_review(other_shop, title="Foreign dress")
    published_job(other_shop)
    for name in ("api_jobs", "api_products", "api_publications", "api_overview"):
        response = client.get(reverse(f"studio_app:{name}"), **bearer(installed_shop))
        assert response.status_code == 200
        assert "Foreign dress" not in response.content.decode(), name
    jobs = client.get(reverse("studio_app:api_jobs"), **bearer(installed_shop)).json()
    assert jobs["jobs"] == []


def test_media_url_is_bound_to_shop(client, installed_shop, other_shop, media_root):
    own = job_in_review(installed_shop)
    foreign = job_in_review(other_shop)
    data = client.get(
        reverse("studio_app:api_job", args=[own.job.pk]), **bearer(installed_shop)
    ).json()
    url = data["job"]["candidates"][0]["thumbnail_url"]
    assert client.get(url).status_code == 200
    overlay = client.get(data["job"]["overlay_url"])
    assert overlay.status_code == 200
    assert overlay["Content-Type"] == "image/jpeg"
    token = url.rsplit("/", 1)[-1]
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(reverse("studio_app:media", args=[tampered])).status_code == 404
    assert client.get(reverse("studio_app:media", args=["not-signed"])).status_code == 404
    wrong_salt = signing.dumps([installed_shop.pk, "candidate", own.candidates[0].pk], salt="x")
    assert client.get(reverse("studio_app:media", args=[wrong_salt])).status_code == 404
    # Even a validly signed URL pairing this shop with another shop's candidate finds nothing.
    crossed = signing.dumps(
        [installed_shop.pk, "candidate", foreign.candidates[0].pk], salt=MEDIA_SALT, compress=True
    )
    assert client.get(reverse("studio_app:media", args=[crossed])).status_code == 404


# Actions through the JSON routes.


def test_api_approve_then_publish(client, installed_shop, media_root, sent_tasks):
    built = job_in_review(installed_shop)
    candidate = built.candidates[0]
    response = client.post(
        reverse("studio_app:api_approve", args=[candidate.pk]), **bearer(installed_shop)
    )
    assert response.status_code == 200
    assert response.json()["job"]["state"] == JobState.APPROVED
    again = client.post(
        reverse("studio_app:api_approve", args=[candidate.pk]), **bearer(installed_shop)
    )
    assert again.status_code == 409
    published = client.post(
        reverse("studio_app:api_publish", args=[built.job.pk]), **bearer(installed_shop)
    )
    assert published.status_code == 200
    publication = Publication.objects.get(pk=published.json()["publication"]["id"])
    assert publication.candidate_id == candidate.pk
    assert publication.alt_text == installed_shop.disclosure_text


def test_api_reject_stores_reason(client, installed_shop, media_root):
    built = job_in_review(installed_shop)
    response = client.post(
        reverse("studio_app:api_reject", args=[built.job.pk]),
        json.dumps({"reason": "sleeves look wrong"}),
        content_type="application/json",
        **bearer(installed_shop),
    )
    assert response.status_code == 200
    built.job.refresh_from_db()
    assert built.job.state == JobState.REJECTED
    notes = set(Candidate.objects.filter(job=built.job).values_list("review_note", flat=True))
    assert notes == {"sleeves look wrong"}


def test_api_regenerate_with_presets(
    client, installed_shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    built = job_in_review(installed_shop)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("studio_app:api_regenerate", args=[built.job.pk]),
            json.dumps({"seeds": "5,6", "preset": "reimagine", "scene": "street"}),
            content_type="application/json",
            **bearer(installed_shop),
        )
    assert response.status_code == 200
    built.job.refresh_from_db()
    assert built.job.state == JobState.QUEUED
    assert built.job.round == 2
    assert built.job.preset == "reimagine"
    assert built.job.parameters["seeds"] == [5, 6]
    assert "city street" in built.job.prompt
    assert ("wearview.studio.tasks.prepare_job_task", [built.job.pk]) in sent_tasks


def test_api_regenerate_rejects_unknown_preset(client, installed_shop, media_root):
    built = job_in_review(installed_shop)
    response = client.post(
        reverse("studio_app:api_regenerate", args=[built.job.pk]),
        json.dumps({"preset": "melt"}),
        content_type="application/json",
        **bearer(installed_shop),
    )
    assert response.status_code == 400
    assert "preset" in response.json()["message"]
    built.job.refresh_from_db()
    assert built.job.state == JobState.IN_REVIEW


def test_api_withdraw_published(
    client, installed_shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    job, publication = published_job(installed_shop)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("studio_app:api_withdraw", args=[job.pk]), **bearer(installed_shop)
        )
    assert response.status_code == 200
    assert ("integrations.shopify.tasks.withdraw_publication_task", [publication.pk]) in sent_tasks
    listed = client.get(reverse("studio_app:api_publications"), **bearer(installed_shop)).json()
    assert [item["id"] for item in listed["publications"]] == [publication.pk]
    body = client.get(page_url("published", installed_shop)).content.decode()
    assert reverse("studio_app:withdraw", args=[job.pk]) in body


def test_api_generate_with_presets(
    client, installed_shop, sent_tasks, django_capture_on_commit_callbacks
):
    from tests.factories import make_image, make_product, make_variant

    product = make_product(installed_shop, title="Striped tee", product_type="T-Shirt")
    make_variant(product)
    make_image(product, stored="test-review/src.png")
    listed = client.get(reverse("studio_app:api_products"), **bearer(installed_shop)).json()
    assert [item["id"] for item in listed["products"]] == [product.pk]
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("studio_app:api_generate"),
            json.dumps(
                {"product_ids": [product.pk], "preset": "retouch", "model_look": "editorial"}
            ),
            content_type="application/json",
            **bearer(installed_shop),
        )
    assert response.status_code == 201
    job = GenerationJob.objects.get(pk=response.json()["jobs"][0])
    assert job.shop == installed_shop
    assert job.preset == "retouch"
    assert "editorial fashion model" in job.prompt
    assert ("wearview.studio.tasks.prepare_job_task", [job.pk]) in sent_tasks
    after = client.get(reverse("studio_app:api_products"), **bearer(installed_shop)).json()
    assert after["products"] == [
        {
            "id": product.pk,
            "title": "Striped tee",
            "handle": product.handle,
            "skus_needing_photos": 1,
            "has_open_job": True,
        }
    ]
    body = client.get(page_url("products", installed_shop)).content.decode()
    assert f'value="{product.pk}" data-list id="wv-product-{product.pk}" disabled' in body


def test_api_generate_without_products_returns_400(client, installed_shop):
    response = client.post(
        reverse("studio_app:api_generate"),
        json.dumps({"product_ids": []}),
        content_type="application/json",
        **bearer(installed_shop),
    )
    assert response.status_code == 400


def test_settings_update_through_api_and_form(client, installed_shop):
    response = client.post(
        reverse("studio_app:api_settings"),
        json.dumps(
            {
                "auto_generate": True,
                "publish_mode": "auto",
                "auto_publish_min_score": 0.85,
                "model_look": "casual-smile",
                "disclosure_text": "Image generated with AI.",
            }
        ),
        content_type="application/json",
        **bearer(installed_shop),
    )
    assert response.status_code == 200
    installed_shop.refresh_from_db()
    assert installed_shop.auto_generate is True
    assert installed_shop.publish_mode == "auto"
    assert installed_shop.auto_publish_min_score == 0.85
    assert installed_shop.model_look == "casual-smile"
    assert installed_shop.disclosure_text == "Image generated with AI."

    token = form_token_issue(shop=installed_shop, user_id="42")
    form = {
        "form_token": token,
        "strength_preset": "retouch",
        "model_look": "editorial",
        "pose": "walking",
        "scene": "studio-grey",
        "publish_mode": "manual",
        "auto_publish_min_score": "0.9",
        "disclosure_text": "AI image.",
    }
    saved = client.post(reverse("studio_app:settings"), form)
    assert saved.status_code == 200
    installed_shop.refresh_from_db()
    # An unchecked checkbox is absent from the form, so auto-generate is switched off.
    assert installed_shop.auto_generate is False
    assert installed_shop.pose == "walking"


def test_settings_invalid_score_returns_400(client, installed_shop):
    response = client.post(
        reverse("studio_app:api_settings"),
        json.dumps({"auto_publish_min_score": 1.5}),
        content_type="application/json",
        **bearer(installed_shop),
    )
    assert response.status_code == 400
    assert "auto_publish_min_score" in response.json()["message"]
    installed_shop.refresh_from_db()
    assert installed_shop.auto_publish_min_score == 0.9


def test_fallback_form_generate_reject_withdraw(
    client, installed_shop, media_root, sent_tasks, django_capture_on_commit_callbacks
):
    from tests.factories import make_image, make_product, make_variant

    token = form_token_issue(shop=installed_shop, user_id="42")
    product = make_product(installed_shop, title="Linen trousers", product_type="Trousers")
    make_variant(product)
    make_image(product, stored="test-review/trousers.png")
    with django_capture_on_commit_callbacks(execute=True):
        generated = client.post(
            reverse("studio_app:generate"),
            {"form_token": token, "product_ids": [product.pk], "pose": "three-quarter"},
        )
    assert generated.status_code == 200
    assert "1 generation job started." in generated.content.decode()
    job = GenerationJob.objects.get(product=product)
    assert "three-quarter turn" in job.prompt
    again = client.post(
        reverse("studio_app:generate"), {"form_token": token, "product_ids": [product.pk]}
    )
    assert "0 generation jobs started. 1 product skipped" in again.content.decode()
    assert GenerationJob.objects.filter(product=product).count() == 1

    in_review = job_in_review(installed_shop)
    rejected = client.post(
        reverse("studio_app:reject", args=[in_review.job.pk]),
        {"form_token": token, "reason": "wrong colour"},
    )
    assert rejected.status_code == 200
    in_review.job.refresh_from_db()
    assert in_review.job.state == JobState.REJECTED

    published, publication = published_job(installed_shop)
    with django_capture_on_commit_callbacks(execute=True):
        withdrawn = client.post(
            reverse("studio_app:withdraw", args=[published.pk]), {"form_token": token}
        )
    assert withdrawn.status_code == 200
    assert "being withdrawn" in withdrawn.content.decode()
    assert ("integrations.shopify.tasks.withdraw_publication_task", [publication.pk]) in sent_tasks

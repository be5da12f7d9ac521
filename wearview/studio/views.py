"""The embedded app a store owner opens inside Shopify's admin, and its JSON data routes.

Pages are rendered on the server with Polaris web components and plain HTML forms, so every
action still works when Shopify's CDN scripts cannot load. With App Bridge loaded, the page's
script sends the same actions to the `/app/api/...` routes with a fresh session token instead.

No cookie is read or set, because the iframe may not get one. A page request carries the
session token that Shopify puts in the URL (`id_token`) or an `Authorization: Bearer` header.
The plain-HTML forms carry a form token that this module signs after verifying a session token.
"""

import functools
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import jwt
from django import forms
from django.conf import settings
from django.core import signing
from django.core.exceptions import ObjectDoesNotExist
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import SessionTokenError
from integrations.shopify.session_tokens import (
    RETRY_HEADER,
    bearer_token,
    decode_session_token,
)
from wearview.catalog.models import Product, PublishMode, Shop, StrengthPreset
from wearview.errors import WearViewError
from wearview.studio import selectors, thumbnails
from wearview.studio.models import Candidate, GenerationJob, JobState, Publication
from wearview.studio.prompts import MODEL_LOOKS, POSES, SCENES, build_prompt, visual_option_values
from wearview.studio.review import (
    candidate_approve,
    job_publish,
    job_regenerate,
    job_reject,
    job_withdraw,
)

logger = logging.getLogger(__name__)

SHOPIFY_ADMIN_ORIGIN = "https://admin.shopify.com"
FORM_TOKEN_SALT = "wearview.studio.embedded-form"
FORM_TOKEN_MAX_AGE = 30 * 60
MEDIA_SALT = "wearview.studio.embedded-media"
MEDIA_MAX_AGE = 60 * 60


def frame_ancestors(shop_domain: str | None) -> str:
    """Return the Content-Security-Policy value that lets Shopify's admin frame the page."""
    if shop_domain:
        return f"frame-ancestors https://{shop_domain} {SHOPIFY_ADMIN_ORIGIN};"
    return f"frame-ancestors {SHOPIFY_ADMIN_ORIGIN};"


def _with_frame_policy(response: HttpResponse, shop_domain: str | None) -> HttpResponse:
    response["Content-Security-Policy"] = frame_ancestors(shop_domain)
    return response


def _shop_param(request: HttpRequest) -> str | None:
    try:
        return normalize_shop_domain(request.GET.get("shop", ""))
    except InvalidShopDomain:
        return None


# Authentication.


def form_token_issue(*, shop: Shop, user_id: str) -> str:
    """Sign a token for the plain-HTML forms of one shop's pages, valid FORM_TOKEN_MAX_AGE."""
    return signing.dumps({"shop": shop.domain, "sub": user_id}, salt=FORM_TOKEN_SALT)


def _form_token_shop(token: str) -> tuple[Shop, str]:
    try:
        claims = signing.loads(token, salt=FORM_TOKEN_SALT, max_age=FORM_TOKEN_MAX_AGE)
    except signing.SignatureExpired:
        raise SessionTokenError("Form token expired; open the app again from Shopify.") from None
    except signing.BadSignature:
        raise SessionTokenError("Form token has an invalid signature.") from None
    shop = Shop.objects.filter(
        domain=claims.get("shop"), installed_at__isnull=False, uninstalled_at__isnull=True
    ).first()
    if shop is None:
        raise SessionTokenError(f"Shop {claims.get('shop')} does not have the app installed.")
    return shop, str(claims.get("sub", ""))


def _authenticate(request: HttpRequest, *, page: bool) -> tuple[Shop, str]:
    """Return the shop and user of the request's token; pages also accept URL and form tokens.

    Raises:
        SessionTokenError: no token, or a token that fails verification.
    """
    token = bearer_token(request)
    if not token and page:
        token = request.POST.get("id_token") or request.GET.get("id_token") or ""
    if token:
        session = decode_session_token(token)
        return session.shop, session.user_id
    form_token = ""
    if page:
        form_token = request.POST.get("form_token") or request.GET.get("form_token") or ""
    if form_token:
        return _form_token_shop(form_token)
    raise SessionTokenError("The request carries no session token.")


def _session_token_expired(token: str) -> bool:
    # Only decides whether a fresh token could help; the bounce page grants nothing, so the
    # unverified read is safe here.
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    expiry = claims.get("exp")
    return isinstance(expiry, (int, float)) and expiry < time.time()


def _unauthorized_page(request: HttpRequest, reason: str) -> HttpResponse:
    shop_domain = _shop_param(request)
    token = bearer_token(request) or request.GET.get("id_token", "")
    # A missing or expired token is renewed through the bounce page. Any other failure (a bad
    # signature, an uninstalled shop) would fail again after the reload, so it gets the 401.
    renewable = not token or _session_token_expired(token)
    if shop_domain and request.method == "GET" and renewable:
        # App Bridge on the bounce page fetches a fresh session token and reloads the page.
        query = request.GET.copy()
        query.pop("id_token", None)
        query.pop("form_token", None)
        target = request.path + ("?" + query.urlencode() if query else "")
        bounce = (
            reverse("studio_app:bounce")
            + "?"
            + urlencode(
                {"shop": shop_domain, "host": request.GET.get("host", ""), "shopify-reload": target}
            )
        )
        response = HttpResponseRedirect(bounce)
    else:
        response = render(request, "studio/app/unauthorized.html", {"reason": reason}, status=401)
    response[RETRY_HEADER] = "1"
    return _with_frame_policy(response, shop_domain)


def embedded_page(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate an embedded HTML view: verify the token, bind `request.shop`, set the CSP.

    Every response, the 401 page included, names the requesting shop's admin origin and
    Shopify's admin in `frame-ancestors`, and is exempt from the X-Frame-Options header that
    would keep it out of Shopify's iframe. Forms post without cookies, so CSRF protection comes
    from the signed form token the view checks, not from Django's cookie-based check.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            shop, user_id = _authenticate(request, page=True)
        except SessionTokenError as exc:
            logger.info("Embedded page %s rejected: %s", request.path, exc)
            return _unauthorized_page(request, str(exc))
        request.shop = shop
        request.shop_user = user_id
        response = view(request, *args, **kwargs)
        # The page embeds a form token, a credential of its own, so no cache may keep it.
        response["Cache-Control"] = "no-store"
        return _with_frame_policy(response, shop.domain)

    return csrf_exempt(xframe_options_exempt(wrapper))


def embedded_api(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Decorate a JSON route: only an `Authorization: Bearer` session token is accepted.

    A lookup of an object that belongs to another shop gets 404, a review conflict 409 and
    invalid input 400.
    """

    @functools.wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            shop, user_id = _authenticate(request, page=False)
        except SessionTokenError as exc:
            logger.info("Embedded API request %s rejected: %s", request.path, exc)
            response = JsonResponse({"error": "unauthorized", "message": str(exc)}, status=401)
            response[RETRY_HEADER] = "1"
            return response
        request.shop = shop
        request.shop_user = user_id
        try:
            return view(request, *args, **kwargs)
        except ObjectDoesNotExist as exc:
            logger.info("Shop %s: %s not found: %s", shop.domain, request.path, exc)
            return JsonResponse({"error": "not_found", "message": "Not found."}, status=404)
        except ActionInputError as exc:
            logger.info("Shop %s: %s invalid: %s", shop.domain, request.path, exc)
            return JsonResponse({"error": "invalid", "message": str(exc)}, status=400)
        except WearViewError as exc:
            logger.info("Shop %s: %s rejected: %s", shop.domain, request.path, exc.message)
            return JsonResponse({"error": exc.code, "message": exc.message}, status=409)

    return csrf_exempt(wrapper)


def _actor(request: HttpRequest) -> str:
    return f"shopify:{request.shop.domain}:{request.shop_user or 'unknown'}"


# Operations shared by the pages' forms and the JSON routes. Each looks its object up within
# the request's shop, so another shop's id raises DoesNotExist.


class ActionInputError(ValueError):
    """A request's parameters are invalid; the message names the field and the fix."""


def _optional(keys) -> list[tuple[str, str]]:
    return [("", "")] + [(key, key) for key in keys]


class PresetForm(forms.Form):
    """Overrides of the shop's presets; an empty field keeps the shop's or job's setting."""

    preset = forms.ChoiceField(required=False, choices=_optional(StrengthPreset.values))
    model_look = forms.ChoiceField(required=False, choices=_optional(MODEL_LOOKS))
    pose = forms.ChoiceField(required=False, choices=_optional(POSES))
    scene = forms.ChoiceField(required=False, choices=_optional(SCENES))


def _clean(form: forms.Form) -> dict:
    if not form.is_valid():
        problems = "; ".join(
            f"{field}: {' '.join(errors)}" for field, errors in form.errors.items()
        )
        raise ActionInputError(f"Invalid request: {problems}")
    return {key: value or None for key, value in form.cleaned_data.items()}


def _int_list(values: Any, field: str) -> list[int]:
    if values in (None, ""):
        return []
    if isinstance(values, (str, int)):
        values = str(values).replace(" ", "").split(",")
    try:
        return [int(value) for value in values if str(value) != ""]
    except (TypeError, ValueError):
        raise ActionInputError(
            f"Invalid {field} {values!r}: expected integers, as a list or comma-separated."
        ) from None


def generate_for_products(
    *, shop: Shop, product_ids: list[int], options: dict, actor: str
) -> list[GenerationJob]:
    """Open jobs for the shop's products with the chosen presets and queue their preparation.

    Raises:
        Product.DoesNotExist: an id is not a live product of `shop`.
        ActionInputError: no product ids given.
    """
    from wearview.studio.generation import jobs_create_for_shop
    from wearview.studio.tasks import prepare_job_task

    if not product_ids:
        raise ActionInputError("Choose at least one product to generate photos for.")
    owned = set(
        Product.objects.filter(shop=shop, pk__in=product_ids, deleted_at__isnull=True).values_list(
            "pk", flat=True
        )
    )
    if owned != set(product_ids):
        raise Product.DoesNotExist(f"Products {sorted(set(product_ids) - owned)} not found.")

    with transaction.atomic():
        jobs = jobs_create_for_shop(shop=shop, product_ids=sorted(owned), requested_by=actor)
        prompt_options = {key: options.get(key) for key in ("model_look", "pose", "scene")}
        for job in jobs:
            changes = {}
            if options.get("preset"):
                changes["preset"] = options["preset"]
            if any(prompt_options.values()):
                variant = job.variants.order_by("position").first()
                changes["prompt"] = build_prompt(
                    shop=shop,
                    product=job.product,
                    option_values=visual_option_values(variant.selected_options) if variant else [],
                    **prompt_options,
                )
            if changes:
                # The job is still queued and no task has seen it; its inputs may change.
                GenerationJob.objects.filter(pk=job.pk, state=JobState.QUEUED).update(**changes)
            transaction.on_commit(lambda job_id=job.pk: prepare_job_task.delay(job_id))
    logger.info(
        "Shop %s: %s jobs opened for %s products by %s",
        shop.domain,
        len(jobs),
        len(owned),
        actor,
    )
    return jobs


def approve(*, shop: Shop, candidate_id: int, actor: str) -> GenerationJob:
    """Approve a candidate of one of the shop's jobs."""
    candidate = selectors.shop_candidate(shop=shop, candidate_id=candidate_id)
    return candidate_approve(candidate_id=candidate.pk, actor=actor)


def reject(*, shop: Shop, job_id: int, reason: str, actor: str) -> GenerationJob:
    """Reject the current round of one of the shop's jobs, keeping up to 1000 characters of
    the reason."""
    job = selectors.shop_job(shop=shop, job_id=job_id)
    return job_reject(job_id=job.pk, actor=actor, reason=reason.strip()[:1000])


def regenerate(
    *, shop: Shop, job_id: int, seeds: list[int], options: dict, actor: str
) -> GenerationJob:
    """Start a new round of one of the shop's jobs; empty seeds and options keep the job's."""
    job = selectors.shop_job(shop=shop, job_id=job_id)
    return job_regenerate(job_id=job.pk, actor=actor, seeds=seeds or None, **options)


def publish(*, shop: Shop, job_id: int, actor: str) -> Publication:
    """Send the approved candidate of one of the shop's jobs to the store."""
    job = selectors.shop_job(shop=shop, job_id=job_id)
    return job_publish(job_id=job.pk, actor=actor)


def withdraw(*, shop: Shop, job_id: int, actor: str) -> Publication:
    """Remove the published image of one of the shop's jobs from the store."""
    job = selectors.shop_job(shop=shop, job_id=job_id)
    return job_withdraw(job_id=job.pk, actor=actor)


class ShopSettingsForm(forms.ModelForm):
    model_look = forms.ChoiceField(choices=[(key, key) for key in MODEL_LOOKS])
    pose = forms.ChoiceField(choices=[(key, key) for key in POSES])
    scene = forms.ChoiceField(choices=[(key, key) for key in SCENES])
    auto_publish_min_score = forms.FloatField(
        min_value=0.0,
        max_value=1.0,
        label="Lowest score published automatically",
        help_text="Used when the publish mode is automatic. Fidelity scores run from 0 to 1.",
    )

    class Meta:
        model = Shop
        labels = {"disclosure_text": "AI-disclosure alt text"}
        widgets = {"disclosure_text": forms.TextInput(attrs={"size": 70})}
        fields = [
            "auto_generate",
            "strength_preset",
            "model_look",
            "pose",
            "scene",
            "publish_mode",
            "auto_publish_min_score",
            "disclosure_text",
        ]


def _settings_payload(shop: Shop) -> dict:
    return {field: getattr(shop, field) for field in ShopSettingsForm.Meta.fields}


def shop_settings_update(*, shop: Shop, data: dict, actor: str) -> Shop:
    """Save the shop's settings from the settings form's fields.

    Missing fields keep their value, except `auto_generate`, which a form omits when unchecked.

    Raises:
        ActionInputError: a value is invalid; the message names the field.
    """
    merged = {**_settings_payload(shop), **data}
    form = ShopSettingsForm(merged, instance=shop)
    _clean(form)
    shop = form.save()
    logger.info("Shop %s: settings changed by %s", shop.domain, actor)
    return shop


# JSON views.


def _media_url(shop: Shop, kind: str, candidate_id: int) -> str:
    token = signing.dumps([shop.pk, kind, candidate_id], salt=MEDIA_SALT, compress=True)
    return reverse("studio_app:media", args=[token])


def _candidate_json(shop: Shop, candidate: Candidate) -> dict:
    return {
        "id": candidate.pk,
        "round": candidate.round,
        "seed": candidate.seed,
        "garment_strength": candidate.garment_strength,
        "background_strength": candidate.background_strength,
        "score": round(candidate.score, 4),
        "passed": candidate.passed,
        "failure_reason": candidate.failure_reason,
        "status": candidate.status,
        "thumbnail_url": _media_url(shop, thumbnails.KIND_CANDIDATE, candidate.pk),
        "image_url": _media_url(shop, thumbnails.KIND_CANDIDATE_FULL, candidate.pk),
    }


def _progress(job: GenerationJob) -> dict:
    percent = round(100 * job.progress_step / job.progress_total) if job.progress_total else 0
    return {"step": job.progress_step, "total": job.progress_total, "percent": percent}


def _job_json(shop: Shop, job: GenerationJob) -> dict:
    candidates = getattr(job, "current_candidates", None)
    data = {
        "id": job.pk,
        "state": job.state,
        "state_label": job.get_state_display(),
        "round": job.round,
        "preset": job.preset,
        "failure_reason": job.failure_reason,
        "progress": _progress(job),
        "product": {"id": job.product_id, "title": job.product.title, "handle": job.product.handle},
        "approved_candidate_id": job.approved_candidate_id,
    }
    if candidates is not None:
        data["candidates"] = [_candidate_json(shop, candidate) for candidate in candidates]
        if candidates:
            data["source_url"] = _media_url(shop, thumbnails.KIND_SOURCE, candidates[0].pk)
            data["overlay_url"] = _media_url(shop, thumbnails.KIND_OVERLAY, candidates[0].pk)
    return data


def _publication_json(shop: Shop, publication: Publication) -> dict:
    job = publication.candidate.job
    return {
        "id": publication.pk,
        "status": publication.status,
        "job_id": job.pk,
        "job_state": job.state,
        "product": {"id": job.product_id, "title": job.product.title},
        "alt_text": publication.alt_text,
        "published_at": publication.published_at.isoformat() if publication.published_at else None,
        "thumbnail_url": _media_url(shop, thumbnails.KIND_CANDIDATE, publication.candidate_id),
        "error_message": publication.error_message,
    }


def _body(request: HttpRequest) -> dict:
    if request.content_type == "application/json":
        try:
            data = json.loads(request.body or b"{}")
        except json.JSONDecodeError as exc:
            raise ActionInputError(f"Invalid JSON body: {exc}.") from None
        if not isinstance(data, dict):
            raise ActionInputError("The JSON body must be an object.")
        return data
    return request.POST.dict()


@require_GET
@embedded_api
def api_overview(request: HttpRequest) -> JsonResponse:
    shop = request.shop
    jobs = selectors.shop_jobs_in_progress(shop=shop)[:50]
    return JsonResponse(
        {
            "shop": shop.domain,
            "counts": selectors.shop_overview(shop=shop),
            "in_progress": [_job_json(shop, job) for job in jobs],
        }
    )


@require_GET
@embedded_api
def api_products(request: HttpRequest) -> JsonResponse:
    products = selectors.shop_products_needing_photos(shop=request.shop)[:200]
    return JsonResponse(
        {
            "products": [
                {
                    "id": product.pk,
                    "title": product.title,
                    "handle": product.handle,
                    "skus_needing_photos": product.skus_needing,
                    "has_open_job": product.has_open_job,
                }
                for product in products
            ]
        }
    )


@require_POST
@embedded_api
def api_generate(request: HttpRequest) -> JsonResponse:
    data = _body(request)
    options = _clean(PresetForm(data))
    jobs = generate_for_products(
        shop=request.shop,
        product_ids=_int_list(data.get("product_ids"), "product_ids"),
        options=options,
        actor=_actor(request),
    )
    # Products with an open job or without a product-only photo get no new job.
    return JsonResponse({"jobs": [job.pk for job in jobs], "created": len(jobs)}, status=201)


_JOB_LISTS = {
    "in_progress": selectors.IN_PROGRESS_STATES,
    "review": (JobState.IN_REVIEW, JobState.APPROVED),
    "published": (JobState.PUBLISHING, JobState.PUBLISHED),
}


@require_GET
@embedded_api
def api_jobs(request: HttpRequest) -> JsonResponse:
    which = request.GET.get("state", "")
    if which == "review":
        jobs = selectors.shop_review_jobs(shop=request.shop)
    elif which in _JOB_LISTS:
        jobs = selectors.shop_jobs(shop=request.shop, states=_JOB_LISTS[which])
    elif which == "":
        jobs = selectors.shop_jobs(shop=request.shop)
    else:
        raise ActionInputError(
            f"Invalid state filter {which!r}; use one of {', '.join(_JOB_LISTS)} or none."
        )
    return JsonResponse({"jobs": [_job_json(request.shop, job) for job in jobs[:200]]})


@require_GET
@embedded_api
def api_job(request: HttpRequest, job_id: int) -> JsonResponse:
    job = selectors.shop_job_detail(shop=request.shop, job_id=job_id)
    history = [
        {"from": step.from_state, "to": step.to_state, "at": step.created_at.isoformat()}
        for step in selectors.job_history(job=job)
    ]
    return JsonResponse({"job": {**_job_json(request.shop, job), "history": history}})


@require_POST
@embedded_api
def api_approve(request: HttpRequest, candidate_id: int) -> JsonResponse:
    job = approve(shop=request.shop, candidate_id=candidate_id, actor=_actor(request))
    return JsonResponse({"job": {"id": job.pk, "state": job.state}})


@require_POST
@embedded_api
def api_reject(request: HttpRequest, job_id: int) -> JsonResponse:
    reason = str(_body(request).get("reason", ""))
    job = reject(shop=request.shop, job_id=job_id, reason=reason, actor=_actor(request))
    return JsonResponse({"job": {"id": job.pk, "state": job.state}})


@require_POST
@embedded_api
def api_regenerate(request: HttpRequest, job_id: int) -> JsonResponse:
    data = _body(request)
    job = regenerate(
        shop=request.shop,
        job_id=job_id,
        seeds=_int_list(data.get("seeds"), "seeds"),
        options=_clean(PresetForm(data)),
        actor=_actor(request),
    )
    return JsonResponse({"job": {"id": job.pk, "state": job.state, "round": job.round}})


@require_POST
@embedded_api
def api_publish(request: HttpRequest, job_id: int) -> JsonResponse:
    publication = publish(shop=request.shop, job_id=job_id, actor=_actor(request))
    return JsonResponse({"publication": {"id": publication.pk, "status": publication.status}})


@require_POST
@embedded_api
def api_withdraw(request: HttpRequest, job_id: int) -> JsonResponse:
    publication = withdraw(shop=request.shop, job_id=job_id, actor=_actor(request))
    return JsonResponse({"publication": {"id": publication.pk, "status": publication.status}})


@require_GET
@embedded_api
def api_publications(request: HttpRequest) -> JsonResponse:
    publications = selectors.shop_publications(shop=request.shop)[:200]
    return JsonResponse(
        {"publications": [_publication_json(request.shop, pub) for pub in publications]}
    )


@require_http_methods(["GET", "POST"])
@embedded_api
def api_settings(request: HttpRequest) -> JsonResponse:
    shop = request.shop
    if request.method == "POST":
        shop = shop_settings_update(shop=shop, data=_body(request), actor=_actor(request))
    return JsonResponse({"settings": _settings_payload(shop)})


@require_GET
def media(request: HttpRequest, token: str) -> HttpResponse:
    """Serve a review image named by a signed URL of the shop's own pages.

    Image tags cannot send a session token, so the page embeds URLs signed for its verified
    shop. The signature covers the shop, the image kind and the candidate.
    """
    try:
        shop_id, kind, candidate_id = signing.loads(token, salt=MEDIA_SALT, max_age=MEDIA_MAX_AGE)
    except (signing.BadSignature, ValueError, TypeError):
        return HttpResponse("Not found", status=404, content_type="text/plain")
    candidate = (
        Candidate.objects.select_related("job", "job__source_image")
        .filter(pk=candidate_id, job__shop_id=shop_id)
        .first()
    )
    if candidate is None:
        return HttpResponse("Not found", status=404, content_type="text/plain")
    try:
        key = thumbnails.image_key(kind=kind, candidate=candidate)
    except (thumbnails.ThumbnailUnavailable, ValueError):
        return HttpResponse("Not found", status=404, content_type="text/plain")
    return thumbnails.storage_response(key)


# HTML pages.

NAV = [
    ("overview", "Overview"),
    ("products", "Products needing photos"),
    ("review", "Review"),
    ("published", "Published"),
    ("settings", "Settings"),
]


def _page(
    request: HttpRequest,
    template: str,
    context: dict,
    *,
    notice: str = "",
    error: str = "",
    status: int = 200,
) -> HttpResponse:
    shop = request.shop
    form_token = form_token_issue(shop=shop, user_id=request.shop_user)
    nav = [
        {
            "name": name,
            "label": label,
            "url": reverse(f"studio_app:{name}"),
            "fallback_url": reverse(f"studio_app:{name}")
            + "?"
            + urlencode({"shop": shop.domain, "form_token": form_token}),
        }
        for name, label in NAV
    ]
    page_name = template.rsplit("/", 1)[-1].removesuffix(".html")
    base = {
        "title": dict(NAV).get(page_name, ""),
        "api_key": settings.SHOPIFY_API_KEY,
        "shop": shop,
        "form_token": form_token,
        "nav": nav,
        "notice": notice,
        "error": error,
        "presets": list(StrengthPreset.choices),
        "model_looks": list(MODEL_LOOKS),
        "poses": list(POSES),
        "scenes": list(SCENES),
    }
    return render(request, template, {**base, **context}, status=status)


def _overview_context(shop: Shop) -> dict:
    jobs = list(selectors.shop_jobs_in_progress(shop=shop)[:50])
    return {
        "counts": selectors.shop_overview(shop=shop),
        "jobs": [{"job": job, "progress": _progress(job)} for job in jobs],
    }


def _review_context(shop: Shop) -> dict:
    jobs = list(selectors.shop_review_jobs(shop=shop)[:100])
    rows = []
    for job in jobs:
        candidates = [
            {"candidate": candidate, "thumbnail_url": _media_url(shop, "candidate", candidate.pk)}
            for candidate in job.current_candidates
        ]
        first = job.current_candidates[0].pk if job.current_candidates else None
        has_source = job.source_image is not None and bool(job.source_image.stored)
        has_mask = bool((job.prepared or {}).get("mask_key"))
        rows.append(
            {
                "job": job,
                "candidates": candidates,
                "source_url": _media_url(shop, thumbnails.KIND_SOURCE, first)
                if first and has_source
                else "",
                "overlay_url": _media_url(shop, thumbnails.KIND_OVERLAY, first)
                if first and has_mask
                else "",
            }
        )
    return {"rows": rows}


def _published_context(shop: Shop) -> dict:
    publications = list(selectors.shop_publications(shop=shop)[:200])
    return {
        "publications": [
            {
                "publication": publication,
                "job": publication.candidate.job,
                "thumbnail_url": _media_url(shop, "candidate", publication.candidate_id),
                "can_withdraw": publication.candidate.job.state == JobState.PUBLISHED,
            }
            for publication in publications
        ]
    }


def _products_context(shop: Shop) -> dict:
    return {"products": list(selectors.shop_products_needing_photos(shop=shop)[:200])}


def _settings_context(shop: Shop, form: ShopSettingsForm | None = None) -> dict:
    return {
        "form": form or ShopSettingsForm(instance=shop),
        "publish_modes": list(PublishMode.choices),
    }


@require_GET
@embedded_page
def overview(request: HttpRequest) -> HttpResponse:
    return _page(request, "studio/app/overview.html", _overview_context(request.shop))


@require_GET
@embedded_page
def products(request: HttpRequest) -> HttpResponse:
    return _page(request, "studio/app/products.html", _products_context(request.shop))


@require_GET
@embedded_page
def review(request: HttpRequest) -> HttpResponse:
    return _page(request, "studio/app/review.html", _review_context(request.shop))


@require_GET
@embedded_page
def published(request: HttpRequest) -> HttpResponse:
    return _page(request, "studio/app/published.html", _published_context(request.shop))


@require_http_methods(["GET", "POST"])
@embedded_page
def settings_page(request: HttpRequest) -> HttpResponse:
    shop = request.shop
    if request.method == "GET":
        return _page(request, "studio/app/settings.html", _settings_context(shop))
    data = request.POST.dict()
    data["auto_generate"] = "auto_generate" in request.POST
    try:
        shop = shop_settings_update(shop=shop, data=data, actor=_actor(request))
    except ActionInputError as exc:
        form = ShopSettingsForm(data, instance=Shop.objects.get(pk=shop.pk))
        return _page(
            request,
            "studio/app/settings.html",
            _settings_context(shop, form),
            error=str(exc),
            status=400,
        )
    request.shop = shop
    return _page(request, "studio/app/settings.html", _settings_context(shop), notice="Saved.")


def _form_action(
    run: Callable[[HttpRequest], str],
    page: str,
    context: Callable[[Shop], dict],
) -> Callable[..., HttpResponse]:
    """Build a plain-HTML form endpoint: run the action, then render `page` with the result."""

    def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
        status = 200
        notice = error = ""
        shop_domain = request.shop.domain
        try:
            notice = run(request, **kwargs)
        except ObjectDoesNotExist as exc:
            logger.info("Shop %s: %s not found: %s", shop_domain, request.path, exc)
            return _with_frame_policy(
                render(request, "studio/app/not_found.html", status=404), shop_domain
            )
        except ActionInputError as exc:
            logger.info("Shop %s: %s invalid: %s", shop_domain, request.path, exc)
            error, status = str(exc), 400
        except WearViewError as exc:
            logger.info("Shop %s: %s rejected: %s", shop_domain, request.path, exc.message)
            error, status = exc.message, 409
        return _page(
            request,
            f"studio/app/{page}.html",
            context(request.shop),
            notice=notice,
            error=error,
            status=status,
        )

    return require_POST(embedded_page(view))


def _run_generate(request: HttpRequest) -> str:
    product_ids = _int_list(request.POST.getlist("product_ids"), "product_ids")
    jobs = generate_for_products(
        shop=request.shop,
        product_ids=product_ids,
        options=_clean(PresetForm(request.POST)),
        actor=_actor(request),
    )
    notice = f"{len(jobs)} generation job{'s' if len(jobs) != 1 else ''} started."
    skipped = len(set(product_ids)) - len(jobs)
    if skipped:
        notice += (
            f" {skipped} product{'s' if skipped != 1 else ''} skipped: already in generation, "
            f"or without a product-only photo to start from."
        )
    return notice


def _run_approve(request: HttpRequest, candidate_id: int) -> str:
    job = approve(shop=request.shop, candidate_id=candidate_id, actor=_actor(request))
    return f"Candidate {candidate_id} approved for {job.product.title}."


def _run_reject(request: HttpRequest, job_id: int) -> str:
    reject(
        shop=request.shop,
        job_id=job_id,
        reason=request.POST.get("reason", ""),
        actor=_actor(request),
    )
    return f"Job {job_id} rejected."


def _run_regenerate(request: HttpRequest, job_id: int) -> str:
    job = regenerate(
        shop=request.shop,
        job_id=job_id,
        seeds=_int_list(request.POST.get("seeds"), "seeds"),
        options=_clean(PresetForm(request.POST)),
        actor=_actor(request),
    )
    return f"Job {job_id} is generating round {job.round}."


def _run_publish(request: HttpRequest, job_id: int) -> str:
    publish(shop=request.shop, job_id=job_id, actor=_actor(request))
    return f"Job {job_id} is being published to your store."


def _run_withdraw(request: HttpRequest, job_id: int) -> str:
    withdraw(shop=request.shop, job_id=job_id, actor=_actor(request))
    return f"The image of job {job_id} is being withdrawn from your store."


generate_form = _form_action(_run_generate, "products", _products_context)
approve_form = _form_action(_run_approve, "review", _review_context)
reject_form = _form_action(_run_reject, "review", _review_context)
regenerate_form = _form_action(_run_regenerate, "review", _review_context)
publish_form = _form_action(_run_publish, "review", _review_context)
withdraw_form = _form_action(_run_withdraw, "published", _published_context)


@require_GET
@xframe_options_exempt
def bounce(request: HttpRequest) -> HttpResponse:
    """Load App Bridge without data so it can fetch a session token and reload the target."""
    response = render(request, "studio/app/bounce.html", {"api_key": settings.SHOPIFY_API_KEY})
    return _with_frame_policy(response, _shop_param(request))

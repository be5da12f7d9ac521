"""Install views: the authorization-code flow and the embedded token exchange."""

import logging

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_POST

from integrations.shopify import auth
from integrations.shopify.domains import InvalidShopDomain, normalize_shop_domain
from integrations.shopify.errors import OAuthCallbackError, SessionTokenError
from integrations.shopify.session_tokens import bearer_token, session_token_required, unauthorized

logger = logging.getLogger(__name__)


def _callback_url() -> str:
    return f"{settings.WEARVIEW_APP_URL.rstrip('/')}/shopify/callback"


def _after_install(shop, first: bool) -> None:
    from django.db import transaction

    from integrations.shopify.tasks import sync_shop_task

    if first:
        shop_id = shop.pk
        transaction.on_commit(lambda: sync_shop_task.delay(shop_id))


@require_GET
def install_view(request: HttpRequest) -> HttpResponse:
    """Start the authorization-code flow for `?shop=NAME.myshopify.com`."""
    try:
        shop_domain = normalize_shop_domain(request.GET.get("shop"))
    except InvalidShopDomain as exc:
        return HttpResponse(str(exc), status=400, content_type="text/plain")
    return HttpResponseRedirect(
        auth.oauth_authorize_url(shop_domain=shop_domain, redirect_uri=_callback_url())
    )


@require_GET
def callback_view(request: HttpRequest) -> HttpResponse:
    """Finish the authorization-code flow; 400 when a check fails."""
    params = {key: request.GET.get(key, "") for key in request.GET}
    try:
        shop = auth.shop_install_from_callback(params=params)
    except OAuthCallbackError as exc:
        logger.warning("OAuth callback rejected: %s", exc)
        return HttpResponse("Install failed: " + str(exc), status=400, content_type="text/plain")
    _after_install(shop, first=True)
    from integrations.shopify.services import shop_register_webhooks

    shop_register_webhooks(shop=shop)
    return HttpResponse(f"WearView is installed on {shop.domain}.", content_type="text/plain")


@csrf_exempt
@require_POST
def token_exchange_view(request: HttpRequest) -> HttpResponse:
    """Managed install: exchange the request's session token for an offline access token.

    The embedded app calls this with `Authorization: Bearer <session token>` when it opens.
    An invalid token gets a 401 response with App Bridge's retry header.
    """
    token = bearer_token(request)
    if not token:
        return unauthorized("missing")
    try:
        shop = auth.shop_install_with_session_token(session_token=token)
    except SessionTokenError as exc:
        logger.info("Token exchange rejected: %s", exc)
        return unauthorized(str(exc))
    _after_install(shop, first=shop.last_synced_at is None)
    return JsonResponse({"shop": shop.domain, "installed": True, "scopes": shop.scopes})


@require_GET
@session_token_required
def session_view(request: HttpRequest) -> HttpResponse:
    """Return the shop of the request's session token; embedded pages call it to check one."""
    session = request.shopify_session
    return JsonResponse({"shop": session.shop.domain, "user": session.user_id})

"""Mutation resolvers of the dev store, with Shopify's user errors."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from pathlib import PurePosixPath
from typing import Any
from urllib.parse import urlparse

from graphql import GraphQLError, parse, validate

from .models import MediaImage, Product, WebhookSubscription, next_id, parse_gid, utc_now
from .resolvers import Context, Resolver, find_node
from .schema import load_schema

MAX_PRODUCT_MEDIA = 250
IMAGE_EXTENSIONS = {".jpg", ".jpeg", ".png", ".gif", ".webp", ".heic"}


def _error(field: list[str] | None, message: str, code: str | None = None) -> dict:
    error: dict[str, Any] = {"field": field, "message": message}
    if code is not None:
        error["code"] = code
    return error


def _without_code(errors: list[dict]) -> list[dict]:
    """Copy user errors for the plain `userErrors` field, which has no `code`."""
    return [{key: value for key, value in error.items() if key != "code"} for error in errors]


def _product(ctx: Context, product_id: str | None) -> Product | None:
    parsed = parse_gid(product_id or "", "Product")
    return None if parsed is None else ctx.shop.products.get(parsed[1])


def _filename_from(source: str) -> str:
    return PurePosixPath(urlparse(source).path).name or "image"


def _new_media(
    ctx: Context, source: str, alt: str | None, filename: str | None = None
) -> MediaImage:
    media = MediaImage(
        id=next_id("MediaImage"),
        shop_domain=ctx.shop.domain,
        filename=filename or _filename_from(source),
        alt=alt or "",
        status="UPLOADED",
        original_source=source,
    )
    ctx.shop.files[media.id] = media
    ctx.store.media.schedule(ctx.shop.domain, media.id)
    return media


def _check_media_inputs(media_inputs: list[dict], field_root: str, coded: bool) -> list[dict]:
    errors = []
    for index, item in enumerate(media_inputs):
        path = [field_root, str(index)]
        if item.get("mediaContentType") != "IMAGE":
            errors.append(
                _error(
                    path + ["mediaContentType"],
                    "The dev store only processes IMAGE media.",
                    "INVALID_MEDIA_TYPE" if coded else None,
                )
            )
        source = item.get("originalSource") or ""
        if not source.startswith(("http://", "https://")):
            errors.append(
                _error(
                    path + ["originalSource"],
                    f"Image URL is invalid: {source!r}",
                    "INVALID" if coded else None,
                )
            )
    return errors


def _attach(ctx: Context, product: Product, media: MediaImage) -> None:
    if media.id not in product.media_ids:
        product.media_ids.append(media.id)
    if product.id not in media.product_ids:
        media.product_ids.append(product.id)


def _touch(ctx: Context, product: Product) -> None:
    product.updated_at = utc_now()
    ctx.store.product_changed(ctx.shop, product, "products/update")


# --- productUpdate, productCreateMedia ---------------------------------------------------------


_PRODUCT_INPUT_FIELDS = {
    "title": "title",
    "descriptionHtml": "body_html",
    "vendor": "vendor",
    "productType": "product_type",
    "status": "status",
    "handle": "handle",
}


def product_update(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    values = args.get("product") or args.get("input") or {}
    identifier = values.get("id") or (args.get("identifier") or {}).get("id")
    product = _product(ctx, identifier)
    if product is None:
        return {"product": None, "userErrors": [_error(["id"], "Product does not exist")]}
    errors = []
    if "title" in values and not (values["title"] or "").strip():
        errors.append(_error(["title"], "Title can't be blank"))
    if values.get("handle"):
        handle_in_use = any(
            other.handle == values["handle"] and other.id != product.id
            for other in ctx.shop.products.values()
        )
        if handle_in_use:
            errors.append(_error(["handle"], f"Handle '{values['handle']}' already in use."))
    media_inputs = args.get("media") or []
    errors += _check_media_inputs(media_inputs, "media", coded=False)
    if len(product.media_ids) + len(media_inputs) > MAX_PRODUCT_MEDIA:
        errors.append(_error(["media"], "Product media limit of 250 exceeded."))
    if errors:
        return {"product": None, "userErrors": errors}

    for input_name, attribute in _PRODUCT_INPUT_FIELDS.items():
        if input_name in values and values[input_name] is not None:
            setattr(product, attribute, values[input_name])
    if values.get("tags") is not None:
        tags = values["tags"]
        product.tags = [tag.strip() for tag in (tags.split(",") if isinstance(tags, str) else tags)]
    for item in media_inputs:
        _attach(ctx, product, _new_media(ctx, item["originalSource"], item.get("alt")))
    _touch(ctx, product)
    return {"product": product, "userErrors": []}


def product_create_media(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    product = _product(ctx, args.get("productId"))
    if product is None:
        error = _error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        return {
            "media": None,
            "mediaUserErrors": [error],
            "userErrors": _without_code([error]),
            "product": None,
        }
    errors = _check_media_inputs(args["media"], "media", coded=True)
    if errors:
        return {
            "media": None,
            "mediaUserErrors": errors,
            "userErrors": _without_code(errors),
            "product": product,
        }
    created = []
    for item in args["media"]:
        media = _new_media(ctx, item["originalSource"], item.get("alt"))
        _attach(ctx, product, media)
        created.append(media)
    _touch(ctx, product)
    return {"media": created, "mediaUserErrors": [], "userErrors": [], "product": product}


# --- files --------------------------------------------------------------------------------------


def file_create(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    errors = []
    for index, item in enumerate(args["files"]):
        path = ["files", str(index)]
        source_url = item.get("originalSource") or ""
        if not source_url.startswith(("http://", "https://")):
            errors.append(
                _error(
                    path + ["originalSource"], "Image URL is invalid", "INVALID_IMAGE_SOURCE_URL"
                )
            )
        content_type = item.get("contentType")
        name = item.get("filename") or _filename_from(source_url)
        if content_type not in (None, "IMAGE"):
            errors.append(
                _error(path + ["contentType"], "The dev store only stores IMAGE files.", "INVALID")
            )
        elif content_type is None and PurePosixPath(name).suffix.lower() not in IMAGE_EXTENSIONS:
            errors.append(
                _error(path + ["filename"], "The dev store only stores IMAGE files.", "INVALID")
            )
        alt = item.get("alt") or ""
        if len(alt) > 512:
            errors.append(
                _error(
                    path + ["alt"], "Alt value exceeds 512 characters.", "ALT_VALUE_LIMIT_EXCEEDED"
                )
            )
    if errors:
        return {"files": None, "userErrors": errors}
    created = [
        _new_media(ctx, item["originalSource"], item.get("alt"), item.get("filename"))
        for item in args["files"]
    ]
    return {"files": created, "userErrors": []}


def file_update(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    errors = []
    plans: list[tuple[MediaImage, dict, list[Product], list[Product]]] = []
    for index, item in enumerate(args["files"]):
        path = ["files", str(index)]
        found = find_node(ctx.shop, item["id"])
        if not isinstance(found, MediaImage):
            errors.append(
                _error(
                    path + ["id"], f"File id {item['id']} does not exist.", "FILE_DOES_NOT_EXIST"
                )
            )
            continue
        if found.status != "READY":
            errors.append(
                _error(path + ["id"], "Non-ready files cannot be updated.", "NON_READY_STATE")
            )
            continue
        if item.get("originalSource") or item.get("previewImageSource") or item.get("filename"):
            errors.append(
                _error(
                    path,
                    "The dev store updates only alt and references of a file.",
                    "INVALID",
                )
            )
            continue
        targets: dict[str, list[Product]] = {"referencesToAdd": [], "referencesToRemove": []}
        for key in targets:
            for reference in item.get(key) or []:
                parsed = parse_gid(reference)
                if parsed is None or parsed[0] != "Product":
                    errors.append(
                        _error(
                            path + [key],
                            f"Reference {reference} is not a product.",
                            "UNSUPPORTED_FILE_REFERENCE",
                        )
                    )
                    continue
                product = ctx.shop.products.get(parsed[1])
                if product is None:
                    errors.append(
                        _error(
                            path + [key],
                            f"Reference target {reference} does not exist.",
                            "REFERENCE_TARGET_DOES_NOT_EXIST",
                        )
                    )
                    continue
                targets[key].append(product)
        for product in targets["referencesToAdd"]:
            if found.id not in product.media_ids and len(product.media_ids) >= MAX_PRODUCT_MEDIA:
                errors.append(
                    _error(
                        path + ["referencesToAdd"],
                        "Product media limit of 250 exceeded.",
                        "PRODUCT_MEDIA_LIMIT_EXCEEDED",
                    )
                )
        plans.append((found, item, targets["referencesToAdd"], targets["referencesToRemove"]))
    if errors:
        return {"files": None, "userErrors": errors}

    changed: dict[int, Product] = {}
    for media, item, to_add, to_remove in plans:
        if item.get("alt") is not None:
            media.alt = item["alt"]
            for product_id in media.product_ids:
                if product_id in ctx.shop.products:
                    changed[product_id] = ctx.shop.products[product_id]
        for product in to_add:
            if media.id not in product.media_ids:
                _attach(ctx, product, media)
                changed[product.id] = product
        for product in to_remove:
            if media.id in product.media_ids:
                product.media_ids.remove(media.id)
                media.product_ids.remove(product.id)
                for variant in product.variants:
                    if media.id in variant.media_ids:
                        variant.media_ids.remove(media.id)
                changed[product.id] = product
        media.updated_at = utc_now()
    for product in changed.values():
        _touch(ctx, product)
    return {"files": [plan[0] for plan in plans], "userErrors": []}


# --- staged uploads -----------------------------------------------------------------------------


def upload_signature(secret: str, key: str) -> str:
    return hmac.new(secret.encode(), key.encode(), hashlib.sha256).hexdigest()


def staged_uploads_create(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    errors = []
    for index, item in enumerate(args["input"]):
        path = ["input", str(index)]
        if not (item.get("filename") or "").strip():
            errors.append(_error(path + ["filename"], "Filename can't be blank"))
        if not (item.get("mimeType") or "").strip():
            errors.append(_error(path + ["mimeType"], "Mime type can't be blank"))
        if item["resource"] in ("VIDEO", "MODEL_3D") and item.get("fileSize") is None:
            errors.append(_error(path + ["fileSize"], "File size is required for this resource."))
    if errors:
        return {"stagedTargets": None, "userErrors": errors}
    targets = []
    for item in args["input"]:
        method = item.get("httpMethod") or "PUT"
        key = f"tmp/{ctx.shop.id}/products/{secrets.token_hex(8)}/{_safe_name(item['filename'])}"
        signature = upload_signature(ctx.store.api_secret, key)
        ctx.store.add_staged_upload(ctx.shop, key, item, method)
        resource_url = f"{ctx.base_url}/staged-uploads/{key}"
        if method == "POST":
            policy = base64.b64encode(
                json.dumps({"conditions": [{"key": key}], "expiration": "in 1 day"}).encode()
            ).decode()
            parameters = [
                ("Content-Type", item["mimeType"]),
                ("success_action_status", "201"),
                ("acl", "private"),
                ("key", key),
                ("x-goog-date", utc_now().strftime("%Y%m%dT%H%M%SZ")),
                ("x-goog-credential", "devstore/auto/storage/goog4_request"),
                ("x-goog-algorithm", "GOOG4-HMAC-SHA256"),
                ("x-goog-signature", signature),
                ("policy", policy),
            ]
            url = f"{ctx.base_url}/staged-uploads"
        else:
            parameters = [("content_type", item["mimeType"]), ("acl", "private")]
            url = f"{resource_url}?X-Goog-Algorithm=GOOG4-HMAC-SHA256&X-Goog-Signature={signature}"
        targets.append(
            {
                "url": url,
                "resourceUrl": resource_url,
                "parameters": [{"name": name, "value": value} for name, value in parameters],
            }
        )
    return {"stagedTargets": targets, "userErrors": []}


def _safe_name(filename: str) -> str:
    name = PurePosixPath(filename.replace("\\", "/")).name
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in name) or "upload"


# --- variant media and reordering ---------------------------------------------------------------


def product_variant_append_media(source: Any, info: Any, **args: Any) -> dict:
    return _variant_media_change(info.context, args, append=True)


def product_variant_detach_media(source: Any, info: Any, **args: Any) -> dict:
    return _variant_media_change(info.context, args, append=False)


def _variant_media_change(ctx: Context, args: dict, *, append: bool) -> dict:
    product = _product(ctx, args.get("productId"))
    if product is None:
        error = _error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        return {"product": None, "productVariants": None, "userErrors": [error]}
    errors = []
    changes = []
    seen: set[int] = set()
    variants_by_id = {variant.id: variant for variant in product.variants}
    for index, pair in enumerate(args["variantMedia"]):
        path = ["variantMedia", str(index)]
        parsed = parse_gid(pair["variantId"], "ProductVariant")
        variant = variants_by_id.get(parsed[1]) if parsed else None
        if variant is None:
            errors.append(
                _error(
                    path + ["variantId"],
                    f"Variant {pair['variantId']} does not exist on the product.",
                    "PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT",
                )
            )
            continue
        if variant.id in seen:
            errors.append(
                _error(
                    path + ["variantId"],
                    "Product variant is specified more than once.",
                    "PRODUCT_VARIANT_SPECIFIED_MULTIPLE_TIMES",
                )
            )
            continue
        seen.add(variant.id)
        if len(pair["mediaIds"]) != 1:
            errors.append(
                _error(
                    path + ["mediaIds"],
                    "Only one mediaId is allowed per variant-media input pair.",
                    "TOO_MANY_MEDIA_PER_INPUT_PAIR",
                )
            )
            continue
        media_gid = pair["mediaIds"][0]
        parsed_media = parse_gid(media_gid, "MediaImage")
        media = ctx.shop.files.get(parsed_media[1]) if parsed_media else None
        if media is None or media.id not in product.media_ids:
            errors.append(
                _error(
                    path + ["mediaIds"],
                    f"Media id {media_gid} does not exist on this product.",
                    "MEDIA_DOES_NOT_EXIST_ON_PRODUCT",
                )
            )
            continue
        if append and media.status != "READY":
            errors.append(
                _error(
                    path + ["mediaIds"],
                    "Non-ready media cannot be attached to variants.",
                    "NON_READY_MEDIA",
                )
            )
            continue
        # NOTE: one media item per variant follows the storefront's single variant image and
        # the PRODUCT_VARIANT_ALREADY_HAS_MEDIA code; no Shopify document states the rule.
        if append and variant.media_ids:
            errors.append(
                _error(
                    path + ["variantId"],
                    f"Product variant {variant.gid} already has attached media.",
                    "PRODUCT_VARIANT_ALREADY_HAS_MEDIA",
                )
            )
            continue
        if not append and media.id not in variant.media_ids:
            errors.append(
                _error(
                    path + ["mediaIds"],
                    f"Media id {media_gid} is not attached to variant {variant.gid}.",
                    "MEDIA_IS_NOT_ATTACHED_TO_VARIANT",
                )
            )
            continue
        changes.append((variant, media))
    if errors:
        return {"product": None, "productVariants": None, "userErrors": errors}
    for variant, media in changes:
        if append:
            variant.media_ids = [media.id]
        else:
            variant.media_ids.remove(media.id)
        variant.updated_at = utc_now()
    _touch(ctx, product)
    return {
        "product": product,
        "productVariants": [variant for variant, _ in changes],
        "userErrors": [],
    }


def product_reorder_media(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    product = _product(ctx, args.get("id"))
    if product is None:
        error = _error(["id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        return {"job": None, "mediaUserErrors": [error], "userErrors": _without_code([error])}

    errors = []
    moves = []
    for index, move in enumerate(args["moves"]):
        parsed = parse_gid(move["id"], "MediaImage")
        if parsed is None or parsed[1] not in product.media_ids:
            errors.append(
                _error(
                    ["moves", str(index), "id"],
                    f"Media id {move['id']} does not exist on this product.",
                    "MEDIA_DOES_NOT_EXIST_ON_PRODUCT",
                )
            )
            continue
        try:
            position = int(move["newPosition"])
        except ValueError:
            errors.append(
                _error(["moves", str(index), "newPosition"], "New position is invalid.", "INVALID")
            )
            continue
        moves.append((parsed[1], position))
    if errors:
        return {"job": None, "mediaUserErrors": errors, "userErrors": _without_code(errors)}

    # Shopify runs the reorder as a job; the dev store applies it at once and reports it done.
    order = list(product.media_ids)
    for media_id, position in moves:
        order.remove(media_id)
        order.insert(min(position, len(order)), media_id)
    product.media_ids = order
    _touch(ctx, product)
    job_id = f"gid://shopify/Job/{secrets.token_hex(8)}"
    return {
        "job": {"id": job_id, "done": True, "query": None},
        "mediaUserErrors": [],
        "userErrors": [],
    }


# --- bulk operations and webhook subscriptions --------------------------------------------------


def bulk_operation_run_query(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    query = args["query"]
    current = ctx.shop.current_bulk_operation()
    if current is not None and current.status in ("CREATED", "RUNNING"):
        error = _error(
            None,
            f"A bulk query operation for this app and shop is already in progress: {current.gid}.",
            "OPERATION_IN_PROGRESS",
        )
        return {"bulkOperation": None, "userErrors": [error]}
    try:
        document = parse(query)
    except GraphQLError as exc:
        return {
            "bulkOperation": None,
            "userErrors": [_error(["query"], f"Invalid bulk query: {exc.message}", "INVALID")],
        }
    problems = validate(load_schema(), document)
    if problems:
        message = "Invalid bulk query: " + "; ".join(problem.message for problem in problems)
        return {"bulkOperation": None, "userErrors": [_error(["query"], message, "INVALID")]}
    problem = ctx.store.bulk.check_query(document)
    if problem:
        return {"bulkOperation": None, "userErrors": [_error(["query"], problem, "INVALID")]}
    operation = ctx.store.bulk.start(ctx.shop, query, document)
    return {"bulkOperation": operation, "userErrors": []}


def webhook_subscription_create(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    topic = args["topic"]
    values = args["webhookSubscription"]
    uri = values.get("uri") or values.get("callbackUrl") or ""
    parsed = urlparse(uri)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        error = _error(["webhookSubscription", "callbackUrl"], "Address is invalid")
        return {"webhookSubscription": None, "userErrors": [error]}
    for existing in ctx.shop.subscriptions.values():
        if existing.topic == topic and existing.uri == uri:
            error = _error(
                ["webhookSubscription", "callbackUrl"],
                "Address for this topic has already been taken",
            )
            return {"webhookSubscription": None, "userErrors": [error]}
    subscription = WebhookSubscription(
        id=next_id("WebhookSubscription"),
        topic=topic,
        uri=uri,
        format=values.get("format") or "JSON",
    )
    ctx.shop.subscriptions[subscription.id] = subscription
    return {"webhookSubscription": subscription, "userErrors": []}


MUTATION_FIELDS: dict[str, Resolver] = {
    "productUpdate": product_update,
    "productCreateMedia": product_create_media,
    "fileCreate": file_create,
    "fileUpdate": file_update,
    "stagedUploadsCreate": staged_uploads_create,
    "productVariantAppendMedia": product_variant_append_media,
    "productVariantDetachMedia": product_variant_detach_media,
    "productReorderMedia": product_reorder_media,
    "bulkOperationRunQuery": bulk_operation_run_query,
    "webhookSubscriptionCreate": webhook_subscription_create,
}

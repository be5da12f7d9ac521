"""Resolvers the dev store attaches to the Admin schema, for queries and for objects."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLObjectType, GraphQLSchema

from .connections import ProductSearch, connection
from .models import (
    BulkOperation,
    MediaImage,
    Product,
    Shop,
    Variant,
    gid,
    iso,
    parse_gid,
)
from .webhooks import cdn_url

if TYPE_CHECKING:
    from .store import DevStore


@dataclass
class Context:
    """Per-request state every resolver reads: the store, the shop and the URLs to hand out."""

    store: DevStore
    shop: Shop
    base_url: str
    bulk: bool = False
    search: list[dict] = field(default_factory=list)


Resolver = Callable[..., Any]


class NotServedError(GraphQLError):
    pass


def _not_served(type_name: str, field_name: str) -> Resolver:
    message = (
        f"Field '{field_name}' on type '{type_name}' is valid in the Admin API but the dev store "
        "does not serve it; add a resolver in integrations/shopify/devstore/resolvers.py."
    )

    def resolve(source: Any, info: Any, **_: Any) -> Any:
        # Indexing, unlike `in`, lets a ConnectionSlice build its edges on demand.
        if isinstance(source, dict):
            try:
                return source[field_name]
            except KeyError:
                pass
        raise NotServedError(message, extensions={"code": "NOT_SERVED_BY_DEV_STORE"})

    return resolve


def _attr(name: str) -> Resolver:
    return lambda source, info, **_: getattr(source, name)


def _const(value: Any) -> Resolver:
    return lambda source, info, **_: value


def _gid(source: Any, info: Any, **_: Any) -> str:
    return source.gid


def _legacy_id(source: Any, info: Any, **_: Any) -> str:
    return str(source.id)


def _time(name: str) -> Resolver:
    return lambda source, info, **_: iso(getattr(source, name))


# --- media ------------------------------------------------------------------------------------


def image_dict(media: MediaImage, base_url: str) -> dict[str, Any] | None:
    if media.status != "READY":
        return None
    url = cdn_url(base_url, media)
    return {
        "id": gid("ImageSource", media.image_id),
        "url": url,
        "src": url,
        "originalSrc": url,
        "transformedSrc": url,
        "altText": media.alt or None,
        "width": media.width,
        "height": media.height,
        "thumbhash": None,
    }


def _media_image(source: MediaImage, info: Any, **_: Any) -> dict | None:
    return image_dict(source, info.context.base_url)


def _media_preview(source: MediaImage, info: Any, **_: Any) -> dict:
    return {"image": image_dict(source, info.context.base_url), "status": source.status}


def _media_errors(source: MediaImage, info: Any, **_: Any) -> list[dict]:
    return list(source.errors)


def _original_source(source: MediaImage, info: Any, **_: Any) -> dict:
    return {"url": source.original_source, "fileSize": source.file_size}


MEDIA_IMAGE_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "alt": lambda source, info, **_: source.alt or None,
    "status": _attr("status"),
    "fileStatus": _attr("status"),
    "mediaContentType": _const("IMAGE"),
    "mediaErrors": _media_errors,
    "fileErrors": _media_errors,
    "mediaWarnings": _const([]),
    "image": _media_image,
    "preview": _media_preview,
    "mimeType": _attr("mime_type"),
    "originalSource": _original_source,
    "createdAt": _time("created_at"),
    "updatedAt": _time("updated_at"),
}


# --- products ---------------------------------------------------------------------------------


def _product_media(source: Product, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    return connection(ctx.shop.product_media(source), args, bulk=ctx.bulk, field_name="media")


def _product_images(source: Product, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    ready = [media for media in ctx.shop.product_media(source) if media.status == "READY"]
    result = connection(ready, args, bulk=ctx.bulk, field_name="images")
    # Build the edges from the media before the nodes become image dicts without ids.
    edges = result["edges"]
    images = [image_dict(media, ctx.base_url) for media in result["nodes"]]
    result["nodes"] = images
    for edge, image in zip(edges, images, strict=True):
        edge["node"] = image
    return result


def _product_variants(source: Product, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    return connection(source.variants, args, bulk=ctx.bulk, field_name="variants")


def _featured_media(source: Product, info: Any, **_: Any) -> MediaImage | None:
    media = info.context.shop.product_media(source)
    return media[0] if media else None


def _featured_image(source: Product, info: Any, **_: Any) -> dict | None:
    for media in info.context.shop.product_media(source):
        if media.status == "READY":
            return image_dict(media, info.context.base_url)
    return None


def _product_options(source: Product, info: Any, **args: Any) -> list[dict]:
    options = []
    for index, name in enumerate(source.option_names, start=1):
        values = list(
            dict.fromkeys(v.options[index - 1] for v in source.variants if len(v.options) >= index)
        )
        options.append(
            {
                "id": gid("ProductOption", source.id * 10 + index),
                "name": name,
                "position": index,
                "values": values,
                "optionValues": [
                    {
                        "id": gid("ProductOptionValue", source.id * 1000 + index * 100 + number),
                        "name": value,
                        "hasVariants": True,
                        "swatch": None,
                    }
                    for number, value in enumerate(values)
                ],
            }
        )
    limit = args.get("first")
    return options[:limit] if limit is not None else options


PRODUCT_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "legacyResourceId": _legacy_id,
    "title": _attr("title"),
    "handle": _attr("handle"),
    "descriptionHtml": _attr("body_html"),
    "bodyHtml": _attr("body_html"),
    "description": lambda source, info, **_: _strip_tags(source.body_html),
    "vendor": _attr("vendor"),
    "productType": _attr("product_type"),
    "tags": _attr("tags"),
    "status": _attr("status"),
    "createdAt": _time("created_at"),
    "updatedAt": _time("updated_at"),
    "publishedAt": _time("published_at"),
    "onlineStoreUrl": _const(None),
    "templateSuffix": _const(None),
    "isGiftCard": _const(False),
    "hasOnlyDefaultVariant": lambda source, info, **_: (
        len(source.variants) == 1 and source.variants[0].title == "Default Title"
    ),
    "totalVariants": lambda source, info, **_: len(source.variants),
    "variantsCount": lambda source, info, **_: {
        "count": len(source.variants),
        "precision": "EXACT",
    },
    "mediaCount": lambda source, info, **_: {
        "count": len(source.media_ids),
        "precision": "EXACT",
    },
    "variants": _product_variants,
    "media": _product_media,
    "images": _product_images,
    "featuredMedia": _featured_media,
    "featuredImage": _featured_image,
    "options": _product_options,
}


def _strip_tags(html: str) -> str:
    return re.sub(r"<[^>]+>", "", html or "").strip()


def _variant_media(source: Variant, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    items = [
        ctx.shop.files[media_id] for media_id in source.media_ids if media_id in ctx.shop.files
    ]
    return connection(items, args, bulk=ctx.bulk, field_name="media")


def _variant_image(source: Variant, info: Any, **_: Any) -> dict | None:
    for media_id in source.media_ids:
        media = info.context.shop.files.get(media_id)
        if media is not None:
            return image_dict(media, info.context.base_url)
    return None


def _variant_product(source: Variant, info: Any, **_: Any) -> Product | None:
    return info.context.shop.products.get(source.product_id)


def _selected_options(source: Variant, info: Any, **_: Any) -> list[dict]:
    product = info.context.shop.products.get(source.product_id)
    names = product.option_names if product else []
    return [
        {"name": name, "value": value, "optionValue": None}
        for name, value in zip(names, source.options, strict=False)
    ]


VARIANT_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "legacyResourceId": _legacy_id,
    "title": _attr("title"),
    "displayName": lambda source, info, **_: source.title,
    "sku": lambda source, info, **_: source.sku or None,
    "price": _attr("price"),
    "compareAtPrice": _attr("compare_at_price"),
    "barcode": lambda source, info, **_: source.barcode or None,
    "position": _attr("position"),
    "inventoryQuantity": _attr("inventory_quantity"),
    "inventoryPolicy": _attr("inventory_policy"),
    "taxable": _attr("taxable"),
    "availableForSale": lambda source, info, **_: True,
    "createdAt": _time("created_at"),
    "updatedAt": _time("updated_at"),
    "selectedOptions": _selected_options,
    "media": _variant_media,
    "image": _variant_image,
    "product": _variant_product,
}


# --- shop, bulk operations, webhook subscriptions -----------------------------------------------


def _shop_plan(source: Shop, info: Any, **_: Any) -> dict:
    names = {"standard": "Basic", "advanced": "Advanced", "plus": "Shopify Plus"}
    display = names.get(source.plan, source.plan)
    return {
        "displayName": display,
        "publicDisplayName": display,
        "partnerDevelopment": True,
        "shopifyPlus": source.plan == "plus",
    }


SHOP_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "name": _attr("name"),
    "email": _attr("email"),
    "contactEmail": _attr("email"),
    "myshopifyDomain": _attr("domain"),
    "currencyCode": _attr("currency_code"),
    "ianaTimezone": _const("Etc/UTC"),
    "timezoneAbbreviation": _const("UTC"),
    "createdAt": _time("created_at"),
    "url": lambda source, info, **_: f"https://{source.domain}",
    "primaryDomain": lambda source, info, **_: {
        "id": gid("Domain", source.id),
        "host": source.domain,
        "url": f"https://{source.domain}",
        "sslEnabled": True,
    },
    "plan": _shop_plan,
}

BULK_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "status": _attr("status"),
    "errorCode": _attr("error_code"),
    "objectCount": lambda source, info, **_: str(source.object_count),
    "rootObjectCount": lambda source, info, **_: str(source.root_object_count),
    "fileSize": lambda source, info, **_: (
        None if source.file_size is None else str(source.file_size)
    ),
    "url": _attr("url"),
    "partialDataUrl": _const(None),
    "query": _attr("query"),
    "type": _attr("type"),
    "createdAt": _time("created_at"),
    "completedAt": _time("completed_at"),
}

WEBHOOK_FIELDS: dict[str, Resolver] = {
    "id": _gid,
    "legacyResourceId": _legacy_id,
    "topic": _attr("topic"),
    "uri": _attr("uri"),
    "callbackUrl": _attr("uri"),
    "format": _attr("format"),
    "includeFields": _const([]),
    "metafieldNamespaces": _const([]),
    "filter": _const(None),
    "name": _const(None),
    "apiVersion": lambda source, info, **_: {
        "handle": "2026-10",
        "displayName": "2026-10",
        "supported": True,
    },
    "endpoint": lambda source, info, **_: {
        "__typename": "WebhookHttpEndpoint",
        "callbackUrl": source.uri,
    },
    "createdAt": _time("created_at"),
    "updatedAt": _time("updated_at"),
}


# --- query root -------------------------------------------------------------------------------


def find_node(shop: Shop, global_id: str) -> Any:
    parsed = parse_gid(global_id)
    if parsed is None:
        raise GraphQLError(
            f"Invalid global id '{global_id}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    resource, number = parsed
    if resource == "Product":
        return shop.products.get(number)
    if resource == "ProductVariant":
        return shop.variant_by_id(number)
    if resource == "MediaImage":
        return shop.files.get(number)
    if resource == "BulkOperation":
        return shop.bulk_operations.get(number)
    if resource == "WebhookSubscription":
        return shop.subscriptions.get(number)
    if resource == "Shop":
        return shop if number == shop.id else None
    return None


_SORT_KEYS: dict[str, Callable[[Product], Any]] = {
    "ID": lambda product: product.id,
    "UPDATED_AT": lambda product: (product.updated_at, product.id),
    "CREATED_AT": lambda product: (product.created_at, product.id),
    "TITLE": lambda product: (product.title.lower(), product.id),
    "VENDOR": lambda product: (product.vendor.lower(), product.id),
    "PRODUCT_TYPE": lambda product: (product.product_type.lower(), product.id),
    "PUBLISHED_AT": lambda product: (product.published_at or product.created_at, product.id),
}


def _products(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    sort_key = args.get("sortKey") or "ID"
    if sort_key not in _SORT_KEYS:
        raise GraphQLError(f"Sort key {sort_key} is not supported by the dev store.")
    products = list(ctx.shop.products.values())
    if args.get("query"):
        search = ProductSearch(args["query"])
        products = [
            product
            for product in products
            if search.matches(product, lambda p: [variant.sku for variant in p.variants])
        ]
        if search.warnings:
            ctx.search.append(search.as_extension([info.path.key]))
    if sort_key != "ID":
        products.sort(key=_SORT_KEYS[sort_key])
    key = _SORT_KEYS[sort_key]
    return connection(
        products, args, bulk=ctx.bulk, field_name="products", sort_value=lambda p: str(key(p))
    )


def _files(source: Any, info: Any, **args: Any) -> dict:
    ctx: Context = info.context
    files = sorted(ctx.shop.files.values(), key=lambda media: media.id)
    return connection(files, args, bulk=ctx.bulk, field_name="files")


def _current_bulk_operation(source: Any, info: Any, **args: Any) -> BulkOperation | None:
    operation = info.context.shop.current_bulk_operation()
    if operation is None or operation.type != (args.get("type") or "QUERY"):
        return None
    return operation


QUERY_FIELDS: dict[str, Resolver] = {
    "shop": lambda source, info, **_: info.context.shop,
    "products": _products,
    "product": lambda source, info, **args: _typed_node(info, args["id"], Product),
    "productVariant": lambda source, info, **args: _typed_node(info, args["id"], Variant),
    "node": lambda source, info, **args: find_node(info.context.shop, args["id"]),
    "nodes": lambda source, info, **args: [
        find_node(info.context.shop, value) for value in args["ids"]
    ],
    "files": _files,
    "currentBulkOperation": _current_bulk_operation,
    "bulkOperation": lambda source, info, **args: _typed_node(info, args["id"], BulkOperation),
    "productsCount": lambda source, info, **_: {
        "count": len(info.context.shop.products),
        "precision": "EXACT",
    },
    "webhookSubscriptions": lambda source, info, **args: connection(
        sorted(info.context.shop.subscriptions.values(), key=lambda item: item.id),
        args,
        bulk=info.context.bulk,
        field_name="webhookSubscriptions",
    ),
}


def _typed_node(info: Any, global_id: str, kind: type) -> Any:
    found = find_node(info.context.shop, global_id)
    return found if isinstance(found, kind) else None


def resolve_type(value: Any, info: Any, abstract_type: Any) -> str:
    if isinstance(value, dict):
        return value["__typename"]
    return value.TYPENAME


def attach_resolvers(schema: GraphQLSchema, mutation_fields: dict[str, Resolver]) -> None:
    """Give every object field of the schema a resolver: a served one or a clear refusal."""
    served: dict[str, dict[str, Resolver]] = {
        "QueryRoot": QUERY_FIELDS,
        "Mutation": mutation_fields,
        "Product": PRODUCT_FIELDS,
        "ProductVariant": VARIANT_FIELDS,
        "MediaImage": MEDIA_IMAGE_FIELDS,
        "Shop": SHOP_FIELDS,
        "BulkOperation": BULK_FIELDS,
        "WebhookSubscription": WEBHOOK_FIELDS,
    }
    for type_name, graphql_type in schema.type_map.items():
        if type_name.startswith("__") or not isinstance(graphql_type, GraphQLObjectType):
            continue
        resolvers = served.get(type_name, {})
        for field_name, graphql_field in graphql_type.fields.items():
            graphql_field.resolve = resolvers.get(field_name) or _not_served(type_name, field_name)

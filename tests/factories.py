"""Small builders for catalog and studio rows used across the test suite."""

import itertools

from wearview.catalog.models import (
    ImageClassification,
    ImageKind,
    Product,
    ProductImage,
    Shop,
    Variant,
)

_ids = itertools.count(1)


def make_shop(domain: str | None = None, **fields) -> Shop:
    domain = domain or f"shop-{next(_ids)}.myshopify.com"
    return Shop.objects.create(domain=domain, **fields)


def make_product(shop: Shop, *, title: str | None = None, **fields) -> Product:
    number = next(_ids)
    return Product.objects.create(
        shop=shop,
        shopify_id=f"gid://shopify/Product/{number}",
        handle=f"product-{number}",
        title=title or f"Product {number}",
        **fields,
    )


def make_variant(product: Product, *, sku: str | None = None, **fields) -> Variant:
    number = next(_ids)
    return Variant.objects.create(
        shop=product.shop,
        product=product,
        shopify_id=f"gid://shopify/ProductVariant/{number}",
        sku=sku or f"SKU-{number}",
        **fields,
    )


def make_image(
    product: Product,
    *,
    kind: str | None = ImageKind.PRODUCT_ONLY,
    variants=(),
    manual_kind: str | None = None,
    **fields,
) -> ProductImage:
    number = next(_ids)
    image = ProductImage.objects.create(
        shop=product.shop,
        product=product,
        shopify_media_id=f"gid://shopify/MediaImage/{number}",
        url=f"https://cdn.example.test/{number}.jpg",
        position=number,
        **fields,
    )
    if variants:
        image.variants.set(variants)
    if kind is not None:
        ImageClassification.objects.create(
            image=image, kind=kind, confidence=0.9, manual_kind=manual_kind
        )
    return image

"""Read-side queries of the catalog."""

from django.db.models import Exists, OuterRef, Q, QuerySet

from wearview.catalog.models import ImageKind, ImageOrigin, Product, ProductImage, Shop, Variant


def _on_model_images_showing_variant() -> QuerySet[ProductImage]:
    """On-model images that show the variant of the outer query.

    An image shows a variant when it is linked to that variant, or when it is linked to no
    variant at all (a product-level image shows every variant). Images that WearView published
    count as on-model whatever their classification.
    """
    return ProductImage.objects.filter(product=OuterRef("product")).filter(
        Q(origin=ImageOrigin.WEARVIEW) | Q(classification__effective_kind=ImageKind.ON_MODEL),
        Q(variants=OuterRef("pk")) | Q(variants__isnull=True),
    )


def variants_needing_on_model(*, shop: Shop) -> QuerySet[Variant]:
    """Sellable variants of live products that no on-model image shows.

    The result is derived from the images and their classifications on every call (one SQL
    query), so it cannot drift from the catalog the way a stored flag would.
    """
    return (
        Variant.objects.filter(shop=shop, sellable=True, product__deleted_at__isnull=True)
        .annotate(has_on_model=Exists(_on_model_images_showing_variant()))
        .filter(has_on_model=False)
    )


def products_needing_on_model(*, shop: Shop) -> QuerySet[Product]:
    """Live products with at least one sellable variant that needs on-model imagery."""
    needing = variants_needing_on_model(shop=shop).filter(product=OuterRef("pk"))
    return Product.objects.filter(shop=shop, deleted_at__isnull=True).filter(Exists(needing))


def product_only_images(*, product: Product) -> QuerySet[ProductImage]:
    """Merchant images of `product` classified as product-only, best candidates first."""
    return (
        ProductImage.objects.filter(
            product=product,
            origin=ImageOrigin.MERCHANT,
            classification__effective_kind=ImageKind.PRODUCT_ONLY,
        )
        .exclude(stored="")
        .order_by("-classification__confidence", "position")
    )

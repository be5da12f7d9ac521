import pytest

from tests.factories import make_image, make_product, make_shop, make_variant
from wearview.catalog.models import ImageKind, ImageOrigin
from wearview.catalog.selectors import products_needing_on_model, variants_needing_on_model

ON = ImageKind.ON_MODEL
ONLY = ImageKind.PRODUCT_ONLY


def _build_catalog(shop):
    """A catalog where each product exercises one branch of the rule; returns expected SKUs."""
    expected = set()

    # Product-only photos only: every sellable variant needs on-model imagery.
    flat = make_product(shop)
    expected |= {make_variant(flat).sku, make_variant(flat).sku}
    make_image(flat, kind=ONLY)

    # A product-level on-model photo shows every variant.
    covered = make_product(shop)
    make_variant(covered)
    make_variant(covered)
    make_image(covered, kind=ONLY)
    make_image(covered, kind=ON)

    # On-model photo linked to the red variant only: blue still needs one.
    split = make_product(shop)
    red = make_variant(split, sku="RED")
    blue = make_variant(split, sku="BLUE")
    make_image(split, kind=ON, variants=[red])
    make_image(split, kind=ONLY, variants=[blue])
    expected.add(blue.sku)

    # The classifier returned on_model but the merchant overrode it: the override wins.
    overridden = make_product(shop)
    expected.add(make_variant(overridden).sku)
    make_image(overridden, kind=ON, manual_kind=ONLY)

    # The classifier returned product_only but the merchant marked it on_model.
    promoted = make_product(shop)
    make_variant(promoted)
    make_image(promoted, kind=ONLY, manual_kind=ON)

    # Not yet classified images do not count as on-model.
    unclassified = make_product(shop)
    expected.add(make_variant(unclassified).sku)
    make_image(unclassified, kind=None)

    # An image WearView published counts as on-model for the variants it is linked to.
    published = make_product(shop)
    done = make_variant(published, sku="DONE")
    todo = make_variant(published, sku="TODO")
    make_image(published, kind=ONLY)
    make_image(published, kind=None, origin=ImageOrigin.WEARVIEW, variants=[done])
    expected.add(todo.sku)

    # Unsellable variants and deleted products never need imagery.
    sold_out = make_product(shop)
    make_variant(sold_out, sellable=False)
    make_image(sold_out, kind=ONLY)
    from django.utils import timezone

    gone = make_product(shop, deleted_at=timezone.now())
    make_variant(gone)
    make_image(gone, kind=ONLY)

    return expected


@pytest.mark.django_db
def test_variants_needing_on_model_exact_set():
    shop = make_shop()
    expected = _build_catalog(shop)
    other_shop = make_shop()
    _build_catalog(other_shop)

    found = set(variants_needing_on_model(shop=shop).values_list("sku", flat=True))

    assert found == expected


@pytest.mark.django_db
def test_products_needing_on_model_any_variant():
    shop = make_shop()
    _build_catalog(shop)

    titles = set(products_needing_on_model(shop=shop).values_list("pk", flat=True))
    expected = set(variants_needing_on_model(shop=shop).values_list("product_id", flat=True))

    assert titles == expected
    assert len(titles) == 5


@pytest.mark.django_db
def test_variants_needing_on_model_constant_queries(django_assert_num_queries):
    shop = make_shop()
    _build_catalog(shop)
    with django_assert_num_queries(1):
        small = list(variants_needing_on_model(shop=shop))

    for _ in range(5):
        _build_catalog(shop)
    with django_assert_num_queries(1):
        large = list(variants_needing_on_model(shop=shop))

    assert len(large) == 6 * len(small)

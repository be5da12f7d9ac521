import pytest

from wearview.imaging.category import CATEGORIES, garment_category


@pytest.mark.parametrize(
    ("product_type", "expected"),
    [
        ("T-Shirt", "top"),
        ("Tank Top", "top"),
        ("Dress Shirt", "top"),
        ("Shirt Dress", "dress"),
        ("Women > Dresses", "dress"),
        ("Skinny Jeans", "bottom"),
        ("Midi Skirt", "bottom"),
        ("Denim Jacket", "outerwear"),
        ("Puffer", "outerwear"),
        ("Jumpsuits", "full_body"),
        ("Ankle Boots", "footwear"),
        ("Sneakers", "footwear"),
        ("Crossbody Bag", "bag"),
        ("Beanie", "accessory"),
        ("Gift Card", "unknown"),
        ("", "unknown"),
    ],
)
def test_garment_category_product_type(product_type, expected):
    assert garment_category(product_type=product_type) == expected


def test_garment_category_product_type_wins_over_title():
    assert garment_category(product_type="Dresses", title="Denim jacket style dress") == "dress"
    assert garment_category(product_type="Jackets", title="Summer dress") == "outerwear"


def test_garment_category_falls_back_to_title():
    assert garment_category(product_type="Clothing", title="Oversized wool coat") == "outerwear"


def test_garment_category_falls_back_to_tags():
    assert garment_category(title="The Everyday", tags=["cotton", "hoodie"]) == "top"


def test_garment_category_always_known_value():
    for text in ("x", "Trousers", "Socks", "Playsuit"):
        assert garment_category(product_type=text) in CATEGORIES

"""Map a shop's product type, title and tags onto WearView's garment categories."""

from __future__ import annotations

import re
from collections.abc import Sequence

CATEGORIES = (
    "top",
    "bottom",
    "dress",
    "outerwear",
    "full_body",
    "footwear",
    "bag",
    "accessory",
    "unknown",
)

# Words and short phrases shops use, by category. Phrases are matched before single words,
# so "tank top" is a top and "dress shirt" a top, not a dress.
_VOCABULARY: dict[str, tuple[str, ...]] = {
    "top": (
        "top",
        "tops",
        "t shirt",
        "t shirts",
        "tshirt",
        "tshirts",
        "tee",
        "tees",
        "shirt",
        "shirts",
        "dress shirt",
        "blouse",
        "blouses",
        "tank",
        "tank top",
        "camisole",
        "cami",
        "polo",
        "polos",
        "sweater",
        "sweaters",
        "jumper",
        "pullover",
        "hoodie",
        "hoodies",
        "sweatshirt",
        "sweatshirts",
        "cardigan",
        "cardigans",
        "crop top",
        "bodysuit",
        "tunic",
        "vest top",
        "knitwear",
        "jersey",
        "henley",
        "bra",
        "bralette",
        "sports bra",
    ),
    "bottom": (
        "bottom",
        "bottoms",
        "pants",
        "pant",
        "trousers",
        "trouser",
        "jeans",
        "jean",
        "denim jeans",
        "shorts",
        "short",
        "skirt",
        "skirts",
        "leggings",
        "legging",
        "joggers",
        "jogger",
        "chinos",
        "chino",
        "sweatpants",
        "culottes",
        "cargo pants",
        "briefs",
        "boxers",
        "underwear",
    ),
    "dress": (
        "dress",
        "dresses",
        "gown",
        "gowns",
        "sundress",
        "maxi",
        "midi",
        "shirt dress",
        "slip dress",
        "frock",
        "saree",
        "sari",
        "kaftan",
    ),
    "outerwear": (
        "jacket",
        "jackets",
        "coat",
        "coats",
        "blazer",
        "blazers",
        "parka",
        "parkas",
        "anorak",
        "windbreaker",
        "puffer",
        "gilet",
        "bomber",
        "trench",
        "overcoat",
        "raincoat",
        "outerwear",
        "fleece",
        "poncho",
    ),
    "full_body": (
        "jumpsuit",
        "jumpsuits",
        "romper",
        "rompers",
        "playsuit",
        "playsuits",
        "overalls",
        "dungarees",
        "boilersuit",
        "onesie",
        "tracksuit",
        "suit",
        "suits",
        "swimsuit",
        "one piece",
        "bodycon",
        "pyjamas",
        "pajamas",
        "set",
        "co ord",
    ),
    "footwear": (
        "shoe",
        "shoes",
        "sneaker",
        "sneakers",
        "trainer",
        "trainers",
        "boot",
        "boots",
        "ankle boots",
        "sandal",
        "sandals",
        "heels",
        "pumps",
        "loafer",
        "loafers",
        "slipper",
        "slippers",
        "flip flops",
        "espadrilles",
        "mules",
        "footwear",
        "clogs",
        "oxfords",
    ),
    "bag": (
        "bag",
        "bags",
        "handbag",
        "handbags",
        "tote",
        "totes",
        "backpack",
        "backpacks",
        "clutch",
        "purse",
        "purses",
        "satchel",
        "crossbody",
        "shoulder bag",
        "duffel",
        "messenger bag",
        "wallet",
        "wallets",
    ),
    "accessory": (
        "accessory",
        "accessories",
        "hat",
        "hats",
        "cap",
        "caps",
        "beanie",
        "beanies",
        "scarf",
        "scarves",
        "belt",
        "belts",
        "gloves",
        "glove",
        "sunglasses",
        "glasses",
        "eyewear",
        "jewelry",
        "jewellery",
        "necklace",
        "earrings",
        "bracelet",
        "ring",
        "rings",
        "watch",
        "watches",
        "tie",
        "ties",
        "socks",
        "sock",
        "headband",
        "bandana",
        "mask",
    ),
}

_PHRASES: dict[str, str] = {
    phrase: category for category, phrases in _VOCABULARY.items() for phrase in phrases
}
_LONGEST_PHRASE = max(len(phrase.split()) for phrase in _PHRASES)


def _tokens(text: str) -> list[str]:
    # "T-Shirt", "t_shirt" and "T Shirt" all become "t shirt".
    return re.findall(r"[a-z0-9]+", text.lower().replace("'", ""))


def _category_of(text: str) -> str | None:
    """Return the category of the head noun: the last garment word in the text.

    English puts the head noun last, so "shirt dress" is a dress and "dress shirt" a top.
    """
    tokens = _tokens(text)
    found: str | None = None
    index = 0
    while index < len(tokens):
        for length in range(min(_LONGEST_PHRASE, len(tokens) - index), 0, -1):
            phrase = " ".join(tokens[index : index + length])
            if phrase in _PHRASES:
                found = _PHRASES[phrase]
                index += length
                break
        else:
            index += 1
    return found


def garment_category(*, product_type: str = "", title: str = "", tags: Sequence[str] = ()) -> str:
    """Return the garment category for a product, one of `CATEGORIES`.

    The product type is the merchant's own classification, so it is read first. The title
    comes next, then the tags one by one; the first text that names a garment decides.
    Returns `unknown` when none does.
    """
    for text in (product_type, title, *tags):
        if not text:
            continue
        category = _category_of(text)
        if category is not None:
            return category
    return "unknown"

"""Checks on the dev store after the demo published: what the merchant would see."""

from dataclasses import dataclass, field


@dataclass
class Snapshot:
    """Each product's media ids, alt texts and file names as stored in the dev store."""

    media: dict[int, list[tuple[int, str, str]]] = field(default_factory=dict)


def take_snapshot(store, domain: str) -> Snapshot:
    shop = store.shop(domain)
    snapshot = Snapshot()
    with store.lock:
        for product in shop.products.values():
            snapshot.media[product.id] = [
                (media.id, media.alt, media.filename) for media in shop.product_media(product)
            ]
    return snapshot


def check_published(
    store,
    domain: str,
    before: Snapshot,
    published: dict[int, tuple[list[int], str]],
) -> list[str]:
    """Return one problem line per failed check; an empty list means every check passed.

    `published` maps a dev store product id to the dev store variant ids the new image must be
    attached to and its expected alt text. Every product must keep its original media
    unchanged; a published product must have exactly one new image, attached to those
    variants, with that alt text; any other product must have no new media.
    """
    problems: list[str] = []
    shop = store.shop(domain)
    with store.lock:
        for product in shop.products.values():
            original = before.media.get(product.id, [])
            current = [
                (media.id, media.alt, media.filename) for media in shop.product_media(product)
            ]
            missing = [item for item in original if item not in current]
            if missing:
                problems.append(f"product {product.handle}: original media changed: {missing}")
            original_ids = {media_id for media_id, _, _ in original}
            new_ids = [media_id for media_id, _, _ in current if media_id not in original_ids]
            expected = published.get(product.id)
            if expected is None:
                if new_ids:
                    problems.append(f"product {product.handle}: unexpected new media {new_ids}")
                continue
            variant_ids, alt_text = expected
            if len(new_ids) != 1:
                problems.append(
                    f"product {product.handle}: expected exactly 1 new image, found {len(new_ids)}"
                )
                continue
            media = shop.files[new_ids[0]]
            if media.status != "READY":
                problems.append(f"product {product.handle}: new image is {media.status}")
            if media.alt != alt_text:
                problems.append(
                    f"product {product.handle}: alt text {media.alt!r}, expected {alt_text!r}"
                )
            attached = sorted(
                variant.id for variant in product.variants if new_ids[0] in variant.media_ids
            )
            if attached != sorted(variant_ids):
                problems.append(
                    f"product {product.handle}: new image on variants {attached}, "
                    f"expected {sorted(variant_ids)}"
                )
    return problems

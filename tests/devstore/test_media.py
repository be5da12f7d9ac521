"""Staged uploads, media processing, files and variant media through the dev store's HTTP API."""

from __future__ import annotations

import io
import time

import pytest
import requests
from PIL import Image

from .conftest import SHOP, make_jpeg

STAGE = """
mutation Stage($input: [StagedUploadInput!]!) {
  stagedUploadsCreate(input: $input) {
    stagedTargets { url resourceUrl parameters { name value } }
    userErrors { field message }
  }
}
"""
ATTACH = """
mutation Attach($product: ProductUpdateInput!, $media: [CreateMediaInput!]) {
  productUpdate(product: $product, media: $media) {
    product { id media(first: 10) { nodes { id status } } }
    userErrors { field message }
  }
}
"""
MEDIA_STATUS = """
query Media($id: ID!) {
  node(id: $id) {
    ... on MediaImage { id status alt mediaErrors { code message } image { url width height } }
  }
}
"""


def stage_and_upload(admin, content: bytes, filename: str, method: str = "POST") -> str:
    body = admin(
        STAGE,
        {
            "input": [
                {
                    "resource": "IMAGE",
                    "filename": filename,
                    "mimeType": "image/jpeg",
                    "httpMethod": method,
                    "fileSize": str(len(content)),
                }
            ]
        },
    )
    target = body["data"]["stagedUploadsCreate"]["stagedTargets"][0]
    if method == "POST":
        fields = {item["name"]: item["value"] for item in target["parameters"]}
        response = requests.post(
            target["url"], data=fields, files={"file": (filename, content)}, timeout=10
        )
        assert response.status_code == 201, response.text
    else:
        response = requests.put(
            target["url"], data=content, headers={"Content-Type": "image/jpeg"}, timeout=10
        )
        assert response.status_code == 200, response.text
    return target["resourceUrl"]


def first_product(store, handle: str = "linen-tee"):
    return next(p for p in store.shop(SHOP).products.values() if p.handle == handle)


def wait_for_status(admin, media_id: str, timeout: float = 5.0) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        node = admin(MEDIA_STATUS, {"id": media_id})["data"]["node"]
        if node["status"] in ("READY", "FAILED"):
            return node
        time.sleep(0.02)
    raise AssertionError(f"Media {media_id} did not finish processing")


def attach(admin, product_gid: str, resource_url: str, alt: str = "On model") -> str:
    body = admin(
        ATTACH,
        {
            "product": {"id": product_gid},
            "media": [{"originalSource": resource_url, "alt": alt, "mediaContentType": "IMAGE"}],
        },
    )
    payload = body["data"]["productUpdate"]
    assert payload["userErrors"] == []
    return payload["product"]["media"]["nodes"][-1]["id"]


@pytest.mark.parametrize("method", ["POST", "PUT"])
def test_staged_upload_then_product_update_reaches_ready(store, admin, method):
    product = first_product(store)
    resource_url = stage_and_upload(admin, make_jpeg(300, 400), "model.jpg", method)
    media_id = attach(admin, product.gid, resource_url)
    first = admin(MEDIA_STATUS, {"id": media_id})["data"]["node"]
    assert first["status"] in ("UPLOADED", "PROCESSING")
    assert first["image"] is None
    node = wait_for_status(admin, media_id)
    assert node["status"] == "READY"
    assert node["alt"] == "On model"
    assert (node["image"]["width"], node["image"]["height"]) == (300, 400)
    downloaded = requests.get(node["image"]["url"], timeout=10)
    assert downloaded.status_code == 200
    assert Image.open(io.BytesIO(downloaded.content)).size == (300, 400)


def test_upload_with_bad_signature_is_rejected(store, admin):
    body = admin(
        STAGE,
        {
            "input": [
                {
                    "resource": "IMAGE",
                    "filename": "a.jpg",
                    "mimeType": "image/jpeg",
                    "httpMethod": "POST",
                }
            ]
        },
    )
    target = body["data"]["stagedUploadsCreate"]["stagedTargets"][0]
    fields = {item["name"]: item["value"] for item in target["parameters"]}
    fields["x-goog-signature"] = "0" * 64
    response = requests.post(
        target["url"], data=fields, files={"file": ("a.jpg", b"x")}, timeout=10
    )
    assert response.status_code == 403
    assert b"SignatureDoesNotMatch" in response.content


def test_staged_uploads_create_reports_blank_filename(admin):
    body = admin(
        STAGE,
        {"input": [{"resource": "IMAGE", "filename": "", "mimeType": "image/jpeg"}]},
    )
    payload = body["data"]["stagedUploadsCreate"]
    assert payload["stagedTargets"] is None
    assert payload["userErrors"] == [
        {"field": ["input", "0", "filename"], "message": "Filename can't be blank"}
    ]


def _truncated_jpeg() -> bytes:
    buffer = io.BytesIO()
    Image.effect_noise((256, 256), 64).convert("RGB").save(buffer, "JPEG", quality=90)
    content = buffer.getvalue()
    return content[: len(content) // 2]


def _png_bytes(width: int, height: int) -> bytes:
    buffer = io.BytesIO()
    Image.new("L", (width, height)).save(buffer, "PNG", optimize=True)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (_png_bytes(4473, 10), "INVALID_IMAGE_RESOLUTION"),
        (_png_bytes(4400, 4600 - 100), "INVALID_IMAGE_RESOLUTION"),
        (b"GIF89a not really", "UNSUPPORTED_IMAGE_FILE_TYPE"),
        (b"plain text, not an image", "UNSUPPORTED_IMAGE_FILE_TYPE"),
        (_truncated_jpeg(), "IMAGE_PROCESSING_FAILURE"),
        (b"\xff\xd8" + b"\0" * (20 * 1024 * 1024 + 1), "INVALID_IMAGE_FILE_SIZE"),
    ],
    ids=["too-wide", "over-20-megapixels", "fake-gif", "text", "truncated-jpeg", "over-20-mb"],
)
def test_refused_files_end_failed(store, admin, content, code):
    product = first_product(store)
    resource_url = stage_and_upload(admin, content, "refused.jpg")
    media_id = attach(admin, product.gid, resource_url)
    node = wait_for_status(admin, media_id, timeout=15)
    assert node["status"] == "FAILED"
    assert node["mediaErrors"][0]["code"] == code
    assert node["image"] is None


def test_external_source_fails_to_download(store, admin):
    product = first_product(store)
    media_id = attach(admin, product.gid, "https://images.example.invalid/photo.jpg")
    node = wait_for_status(admin, media_id)
    assert node["status"] == "FAILED"
    assert node["mediaErrors"][0]["code"] == "IMAGE_DOWNLOAD_FAILURE"


FILE_CREATE = """
mutation Create($files: [FileCreateInput!]!) {
  fileCreate(files: $files) { files { id fileStatus alt } userErrors { field message code } }
}
"""
FILE_UPDATE = """
mutation Update($files: [FileUpdateInput!]!) {
  fileUpdate(files: $files) { files { id alt } userErrors { field message code } }
}
"""


def test_file_create_then_update_references(store, admin):
    product = first_product(store)
    resource_url = stage_and_upload(admin, make_jpeg(100, 120), "file.jpg")
    created = admin(
        FILE_CREATE,
        {"files": [{"originalSource": resource_url, "contentType": "IMAGE", "alt": "draft"}]},
    )["data"]["fileCreate"]
    assert created["userErrors"] == []
    file_id = created["files"][0]["id"]
    early = admin(FILE_UPDATE, {"files": [{"id": file_id, "referencesToAdd": [product.gid]}]})
    early_payload = early["data"]["fileUpdate"]
    if early_payload["userErrors"]:
        assert early_payload["userErrors"][0]["code"] == "NON_READY_STATE"
    wait_for_status(admin, file_id)
    updated = admin(
        FILE_UPDATE,
        {"files": [{"id": file_id, "alt": "Model wears it", "referencesToAdd": [product.gid]}]},
    )["data"]["fileUpdate"]
    assert updated["userErrors"] == []
    media_ids = [item.gid for item in store.shop(SHOP).product_media(product)]
    assert media_ids.count(file_id) == 1
    # Adding the same reference twice leaves one media item on the product.
    admin(FILE_UPDATE, {"files": [{"id": file_id, "referencesToAdd": [product.gid]}]})
    media_ids = [item.gid for item in store.shop(SHOP).product_media(product)]
    assert media_ids.count(file_id) == 1
    removed = admin(FILE_UPDATE, {"files": [{"id": file_id, "referencesToRemove": [product.gid]}]})
    assert removed["data"]["fileUpdate"]["userErrors"] == []
    assert file_id not in [item.gid for item in store.shop(SHOP).product_media(product)]
    # The merchant's originals stay.
    assert len(store.shop(SHOP).product_media(product)) == 2


def test_file_update_unknown_file_and_reference(store, admin):
    missing = admin(FILE_UPDATE, {"files": [{"id": "gid://shopify/MediaImage/1", "alt": "x"}]})
    error = missing["data"]["fileUpdate"]["userErrors"][0]
    assert error["code"] == "FILE_DOES_NOT_EXIST"
    assert error["field"] == ["files", "0", "id"]
    media = store.shop(SHOP).product_media(first_product(store))[0]
    bad_target = admin(
        FILE_UPDATE, {"files": [{"id": media.gid, "referencesToAdd": ["gid://shopify/Product/9"]}]}
    )
    assert (
        bad_target["data"]["fileUpdate"]["userErrors"][0]["code"]
        == "REFERENCE_TARGET_DOES_NOT_EXIST"
    )


APPEND = """
mutation Append($productId: ID!, $variantMedia: [ProductVariantAppendMediaInput!]!) {
  productVariantAppendMedia(productId: $productId, variantMedia: $variantMedia) {
    productVariants { id media(first: 5) { nodes { id } } }
    userErrors { code field message }
  }
}
"""


def test_variant_append_media_rules(store, admin):
    product = first_product(store)
    small, large = product.variants
    resource_url = stage_and_upload(admin, make_jpeg(90, 120), "variant.jpg")
    media_id = attach(admin, product.gid, resource_url)
    not_ready = admin(
        APPEND,
        {
            "productId": product.gid,
            "variantMedia": [{"variantId": large.gid, "mediaIds": [media_id]}],
        },
    )["data"]["productVariantAppendMedia"]
    if not_ready["userErrors"]:
        assert not_ready["userErrors"][0]["code"] == "NON_READY_MEDIA"
        wait_for_status(admin, media_id)
        ok = admin(
            APPEND,
            {
                "productId": product.gid,
                "variantMedia": [{"variantId": large.gid, "mediaIds": [media_id]}],
            },
        )["data"]["productVariantAppendMedia"]
    else:
        ok = not_ready
    assert ok["userErrors"] == []
    assert ok["productVariants"][0]["media"]["nodes"] == [{"id": media_id}]
    occupied = admin(
        APPEND,
        {
            "productId": product.gid,
            "variantMedia": [{"variantId": small.gid, "mediaIds": [media_id]}],
        },
    )["data"]["productVariantAppendMedia"]
    assert occupied["userErrors"][0]["code"] == "PRODUCT_VARIANT_ALREADY_HAS_MEDIA"
    foreign = admin(
        APPEND,
        {
            "productId": product.gid,
            "variantMedia": [
                {"variantId": "gid://shopify/ProductVariant/5", "mediaIds": [media_id]}
            ],
        },
    )["data"]["productVariantAppendMedia"]
    assert foreign["userErrors"][0]["code"] == "PRODUCT_VARIANT_DOES_NOT_EXIST_ON_PRODUCT"


REORDER = """
mutation Reorder($id: ID!, $moves: [MoveInput!]!) {
  productReorderMedia(id: $id, moves: $moves) {
    job { id done }
    mediaUserErrors { code field message }
  }
}
"""


def test_reorder_media(store, admin):
    product = first_product(store)
    first, second = [item.gid for item in store.shop(SHOP).product_media(product)]
    body = admin(REORDER, {"id": product.gid, "moves": [{"id": second, "newPosition": "0"}]})
    assert body["data"]["productReorderMedia"]["mediaUserErrors"] == []
    assert [item.gid for item in store.shop(SHOP).product_media(product)] == [second, first]


def test_product_create_media_still_works(store, admin):
    product = first_product(store)
    resource_url = stage_and_upload(admin, make_jpeg(50, 50), "old-api.jpg")
    body = admin(
        """mutation($id: ID!, $media: [CreateMediaInput!]!) {
          productCreateMedia(productId: $id, media: $media) {
            media { ... on MediaImage { id status } } mediaUserErrors { code message } } }""",
        {
            "id": product.gid,
            "media": [{"originalSource": resource_url, "mediaContentType": "IMAGE"}],
        },
    )
    payload = body["data"]["productCreateMedia"]
    assert payload["mediaUserErrors"] == []
    assert store.deprecated_calls[-1] == (SHOP, ("Mutation.productCreateMedia",))
    assert wait_for_status(admin, payload["media"][0]["id"])["status"] == "READY"


def test_deprecated_field_sets_header(store, admin):
    response = admin.post("{ products(first: 1) { nodes { id bodyHtml } } }")
    assert response.status_code == 200
    assert response.headers["X-Shopify-API-Deprecated-Reason"].startswith("https://shopify.dev/")
    assert store.deprecated_calls == [(SHOP, ("Product.bodyHtml",))]
    current = admin.post("{ products(first: 1) { nodes { id descriptionHtml } } }")
    assert "X-Shopify-API-Deprecated-Reason" not in current.headers

"""Fixtures for the dev store tests: a generated product CSV, images and a webhook receiver."""

from __future__ import annotations

import csv
import io
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from PIL import Image

from integrations.shopify.devstore import DevStore

SHOP = "fixture-shop.myshopify.com"
API_KEY = "test-api-key"
API_SECRET = "test-api-secret-long-enough-for-hs256"

CSV_COLUMNS = [
    "Handle", "Title", "Body (HTML)", "Vendor", "Type", "Tags", "Published",
    "Option1 Name", "Option1 Value", "Option2 Name", "Option2 Value", "Option3 Name",
    "Option3 Value", "Variant SKU", "Variant Grams", "Variant Inventory Tracker",
    "Variant Inventory Qty", "Variant Inventory Policy", "Variant Fulfillment Service",
    "Variant Price", "Variant Compare At Price", "Variant Requires Shipping", "Variant Taxable",
    "Variant Barcode", "Image Src", "Image Position", "Image Alt Text", "Gift Card",
    "Variant Image", "Variant Weight Unit", "Status",
]  # fmt: skip


def make_jpeg(width: int, height: int, color: tuple[int, int, int] = (180, 40, 40)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def write_catalog(folder: Path, products: int = 3) -> Path:
    """Write a product CSV in Shopify's format plus the images its rows name.

    Product 0 has two sizes, two images (one of them a variant image) and an alt text.
    Product 1 has one default variant and an image whose file is missing. The rest have one
    image each.
    """
    images = folder / "images"
    images.mkdir(parents=True, exist_ok=True)
    rows = []

    def row(**values: str) -> dict[str, str]:
        base = {column: "" for column in CSV_COLUMNS}
        base.update(values)
        return base

    (images / "tee-front.jpg").write_bytes(make_jpeg(60, 80))
    (images / "tee-back.jpg").write_bytes(make_jpeg(60, 80, (20, 20, 200)))
    rows.append(
        row(
            Handle="linen-tee",
            Title="Linen Tee",
            **{
                "Body (HTML)": "<p>Soft & light</p>",
                "Vendor": "Acme",
                "Type": "Tops",
                "Tags": "summer, linen",
                "Published": "true",
                "Option1 Name": "Size",
                "Option1 Value": "Small",
                "Variant SKU": "TEE-S",
                "Variant Price": "25",
                "Image Src": "https://cdn.shopify.com/s/files/1/tee-front.jpg?v=3",
                "Image Position": "1",
                "Image Alt Text": "Tee, front",
                "Variant Image": "tee-back.jpg",
            },
        )
    )
    rows.append(
        row(
            Handle="linen-tee",
            **{
                "Option1 Value": "Large",
                "Variant SKU": "TEE-L",
                "Variant Price": "27.5",
                "Image Src": "tee-back.jpg",
                "Image Position": "2",
            },
        )
    )
    rows.append(
        row(
            Handle="wool-scarf",
            Title="Wool Scarf",
            **{
                "Option1 Name": "Title",
                "Option1 Value": "Default Title",
                "Variant SKU": "SCARF",
                "Variant Price": "40",
                "Image Src": "https://cdn.shopify.com/s/files/1/missing-scarf.jpg",
            },
        )
    )
    for index in range(2, products):
        name = f"item-{index}.jpg"
        (images / name).write_bytes(make_jpeg(40, 50, (index % 255, 90, 90)))
        rows.append(
            row(
                Handle=f"item-{index}",
                Title=f"Item {index}",
                **{
                    "Option1 Name": "Title",
                    "Option1 Value": "Default Title",
                    "Variant SKU": f"ITEM-{index}",
                    "Variant Price": "10",
                    "Image Src": name,
                    "Image Position": "1",
                },
            )
        )
    path = folder / "products.csv"
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=CSV_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture
def catalog(tmp_path: Path) -> tuple[Path, Path]:
    return write_catalog(tmp_path), tmp_path / "images"


class Receiver:
    """A webhook endpoint on loopback that records each request and returns a chosen status."""

    def __init__(self) -> None:
        self.requests: list[dict] = []
        self.statuses: list[int] = []
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                with receiver.lock:
                    receiver.requests.append(
                        {"path": self.path, "headers": dict(self.headers), "body": body}
                    )
                    status = receiver.statuses.pop(0) if receiver.statuses else 200
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, args=(0.05,), daemon=True).start()

    def topics(self) -> list[str]:
        with self.lock:
            return [request["headers"]["X-Shopify-Topic"] for request in self.requests]

    def payloads(self, topic: str) -> list[dict]:
        with self.lock:
            return [
                json.loads(request["body"])
                for request in self.requests
                if request["headers"]["X-Shopify-Topic"] == topic
            ]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    endpoint = Receiver()
    yield endpoint
    endpoint.close()


@pytest.fixture
def store(catalog, receiver):
    csv_path, images = catalog
    dev_store = DevStore(
        API_KEY,
        API_SECRET,
        app_url=receiver.url,
        media_processing_seconds=0.05,
        webhook_retry_delay=0.05,
    )
    dev_store.add_shop(SHOP, csv=csv_path, images=images)
    dev_store.start()
    yield dev_store
    dev_store.stop()


@pytest.fixture
def token(store) -> str:
    return store.install(SHOP)["access_token"]


class Admin:
    """Minimal Admin API caller for tests, posting like the app does."""

    def __init__(self, store: DevStore, token: str, shop: str = SHOP) -> None:
        self.url = store.admin_url(shop)
        self.token = token

    def post(
        self, query: str, variables: dict | None = None, timeout: float = 10
    ) -> requests.Response:
        return requests.post(
            self.url,
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": self.token},
            timeout=timeout,
        )

    def __call__(self, query: str, variables: dict | None = None) -> dict:
        response = self.post(query, variables)
        assert response.status_code == 200, response.text
        return response.json()


@pytest.fixture
def admin(store, token) -> Admin:
    return Admin(store, token)

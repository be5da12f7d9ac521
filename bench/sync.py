"""Benchmarks of the catalog sync: the paged full sync against a dev store process, and the
bulk-operation path (JSONL parsing and storing) on a large generated result.

    .venv/bin/python bench/sync.py pages --products 5000 --plan standard
    .venv/bin/python bench/sync.py bulk --products 50000

Both work in their own folder (`--workdir`, default /tmp/wearview-bench-sync) with their own
SQLite database, so they touch nothing of a development setup. Results are printed as one
JSON object; bench/SHOPIFY.md records them.
"""

import argparse
import json
import os
import random
import subprocess
import sys
import time
from pathlib import Path

import jwt

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

API_KEY = "wearview-bench-app"
API_SECRET = "wearview-bench-secret-6f1d0c2b9a8e7f65"
SHOP = "wearview-bench.myshopify.com"


def _setup_django(workdir: Path, broker: str | None = None) -> None:
    from cryptography.fernet import Fernet

    # Production settings: DEBUG off, so Django does not keep a log of every query.
    os.environ["DJANGO_DEBUG"] = "false"
    os.environ["DJANGO_SECRET_KEY"] = "wearview-bench-secret-key-not-for-production"
    os.environ["WEARVIEW_ENCRYPTION_KEY"] = Fernet.generate_key().decode()
    if broker:
        os.environ["CELERY_BROKER_URL"] = broker
    (workdir / "var").mkdir(parents=True, exist_ok=True)
    os.environ["WEARVIEW_VAR_DIR"] = str(workdir / "var")
    os.environ["DATABASE_URL"] = f"sqlite:///{workdir / 'bench.sqlite3'}"
    os.environ["SHOPIFY_API_KEY"] = API_KEY
    os.environ["SHOPIFY_API_SECRET"] = API_SECRET
    os.environ["WEARVIEW_LOG_LEVEL"] = "WARNING"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wearview.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _session_token(shop: str) -> str:
    now = int(time.time())
    claims = {
        "iss": f"https://{shop}/admin",
        "dest": f"https://{shop}",
        "aud": API_KEY,
        "sub": "1",
        "exp": now + 60,
        "nbf": now - 1,
        "iat": now - 1,
        "jti": f"bench-{now}",
    }
    return jwt.encode(claims, API_SECRET, algorithm="HS256")


def _start_devstore(
    csv_path: Path, images: Path, plan: str, log: Path
) -> tuple[subprocess.Popen, str]:
    command = [
        sys.executable,
        str(ROOT / "manage.py"),
        "devstore",
        "--port",
        "0",
        "--csv",
        str(csv_path),
        "--images",
        str(images),
        "--plan",
        plan,
        "--shop",
        SHOP,
        "--api-key",
        API_KEY,
        "--webhook-secret",
        API_SECRET,
    ]
    handle = log.open("w")
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=handle, text=True, cwd=ROOT, env=os.environ.copy()
    )
    for line in process.stdout:
        if line.startswith("Admin API: "):
            admin = line.split(": ", 1)[1].strip()
            return process, admin.split("/shops/", 1)[0]
    raise RuntimeError(f"The dev store did not start; see {log}.")


def bench_pages(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir) / f"pages-{args.products}"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "bench.sqlite3"
    if database.exists():
        database.unlink()
    _setup_django(workdir, args.broker)
    from django.conf import settings

    from integrations.shopify.auth import shop_install_with_session_token
    from integrations.shopify.client import ShopifyClient
    from integrations.shopify.devstore import PLANS, write_sample_catalog
    from integrations.shopify.sync import PAGE_SIZE, shop_sync_pages

    catalog = workdir / "catalog"
    csv_path = catalog / "products.csv"
    if not csv_path.exists():
        write_sample_catalog(
            catalog,
            products=args.products,
            variants_per_product=2,
            images_per_product=3,
            image_size=(48, 60),
        )
    process, base = _start_devstore(
        csv_path, catalog / "images", args.plan, workdir / "devstore.log"
    )
    try:
        settings.SHOPIFY_ADMIN_BASE_URL = base
        shop = shop_install_with_session_token(session_token=_session_token(SHOP))
        client = ShopifyClient(shop)
        started, cpu_started = time.perf_counter(), time.process_time()
        run = shop_sync_pages(shop=shop, client=client, copy_images=False)
        seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    finally:
        process.terminate()
        process.wait(timeout=30)
    plan = PLANS[args.plan]
    actual_per_product = run.actual_cost / run.products_seen
    ceiling = plan.restore_rate / actual_per_product
    # The bucket starts full, so the first bucket_size points cost no waiting at all.
    fastest = max(0.0, (run.actual_cost - plan.bucket_size) / plan.restore_rate)
    rate = run.products_seen / seconds
    return {
        "benchmark": "full sync by pages",
        "plan": args.plan,
        "products": run.products_seen,
        "pages": run.pages,
        "page_size": PAGE_SIZE,
        "seconds": round(seconds, 1),
        "products_per_second": round(rate, 2),
        "requested_cost_per_product": round(run.requested_cost / run.products_seen, 1),
        "actual_cost_per_product": round(actual_per_product, 1),
        "ceiling_products_per_second": round(ceiling, 2),
        "ratio_to_ceiling": round(rate / ceiling, 3),
        "fastest_possible_seconds": round(fastest, 1),
        "ratio_to_fastest_possible": round(fastest / seconds, 3) if seconds else None,
        "app_cpu_ms_per_product": round(cpu * 1000 / run.products_seen, 3),
        "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
        "requests": client.stats.requests,
        "throttled_answers": client.stats.throttled,
        "retries": client.stats.retries,
        "paced_seconds": round(client.stats.paced_seconds, 1),
    }


def _bulk_lines(products: int, seed: int) -> list[bytes]:
    """Generate a bulk JSONL result like Shopify's: 2 variants with one media each and 3 images
    per product, with each product's children shuffled among the next products' lines."""
    generator = random.Random(seed)
    lines: list[bytes] = []
    pending: list[tuple[int, bytes]] = []
    for number in range(1, products + 1):
        product = f"gid://shopify/Product/{number}"
        lines.append(
            json.dumps(
                {
                    "id": product,
                    "handle": f"bench-{number}",
                    "title": f"Bench product {number}",
                    "descriptionHtml": "<p>Cotton tee.</p>",
                    "vendor": "Bench",
                    "productType": "Tops",
                    "tags": ["bench"],
                    "status": "ACTIVE",
                    "updatedAt": "2026-12-01T10:00:00Z",
                }
            ).encode()
        )
        # Groups of lines that keep their order: a variant's media line follows the variant.
        groups: list[list[bytes]] = []
        for v in range(1, 3):
            variant = f"gid://shopify/ProductVariant/{number * 10 + v}"
            size = ["S", "M"][v - 1]
            groups.append(
                [
                    json.dumps(
                        {
                            "id": variant,
                            "sku": f"B-{number}-{v}",
                            "title": size,
                            "position": v,
                            "availableForSale": True,
                            "selectedOptions": [{"name": "Size", "value": size}],
                            "__parentId": product,
                        }
                    ).encode(),
                    json.dumps(
                        {"id": f"gid://shopify/MediaImage/{number * 10 + v}", "__parentId": variant}
                    ).encode(),
                ]
            )
        for m in range(1, 4):
            image = None
            if m != 3 or number % 50 != 0:
                image = {
                    "url": f"https://cdn.example/{number}/{m}.jpg",
                    "width": 800,
                    "height": 1000,
                }
            groups.append(
                [
                    json.dumps(
                        {
                            "id": f"gid://shopify/MediaImage/{number * 10 + m}",
                            "alt": "",
                            "status": "READY" if image else "PROCESSING",
                            "image": image,
                            "__parentId": product,
                        }
                    ).encode()
                ]
            )
        # Children come after their parent, but up to three products later.
        for group in groups:
            pending.append((number + generator.randint(0, 3), group))
        ready = [group for due, group in pending if due <= number]
        pending = [(due, group) for due, group in pending if due > number]
        for group in ready:
            lines.extend(group)
    for _, group in sorted(pending, key=lambda item: item[0]):
        lines.extend(group)
    return lines


def bench_bulk(args: argparse.Namespace) -> dict:
    workdir = Path(args.workdir) / f"bulk-{args.products}"
    workdir.mkdir(parents=True, exist_ok=True)
    database = workdir / "bench.sqlite3"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{database}{suffix}").unlink(missing_ok=True)
    _setup_django(workdir, args.broker)
    from django.utils import timezone

    from integrations.shopify.models import SyncMode, SyncRun
    from integrations.shopify.sync import shop_sync_bulk_store
    from wearview.catalog.models import Product, ProductImage, Shop, Variant

    result_file = workdir / "result.jsonl"
    result_file.write_bytes(b"\n".join(_bulk_lines(args.products, seed=1)) + b"\n")
    shop = Shop.objects.create(domain=SHOP, installed_at=timezone.now())
    run = SyncRun.objects.create(
        shop=shop, mode=SyncMode.BULK, started_at=timezone.now(), bulk_operation_id="bench"
    )
    started, cpu_started = time.perf_counter(), time.process_time()
    with result_file.open("rb") as handle:
        run = shop_sync_bulk_store(run=run, lines=handle, copy_images=False)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return {
        "benchmark": "bulk operation result parsed and stored",
        "database": "sqlite",
        "products": run.products_seen,
        "variants": Variant.objects.filter(shop=shop).count(),
        "images": ProductImage.objects.filter(shop=shop).count(),
        "stored_products": Product.objects.filter(shop=shop).count(),
        "jsonl_megabytes": round(result_file.stat().st_size / 1e6, 1),
        "seconds": round(seconds, 2),
        "products_per_second": round(run.products_seen / seconds, 0),
        "cpu_seconds": round(cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/wearview-bench-sync")
    parser.add_argument(
        "--broker",
        default=None,
        help="Celery broker URL for the tasks the sync enqueues (default: the embedded one).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    pages = commands.add_parser("pages", help="Full sync by pages against a dev store process.")
    pages.add_argument("--products", type=int, default=5000)
    pages.add_argument("--plan", default="standard", choices=["standard", "advanced", "plus"])
    bulk = commands.add_parser("bulk", help="Parse and store a generated bulk JSONL result.")
    bulk.add_argument("--products", type=int, default=50000)
    args = parser.parse_args()
    result = bench_pages(args) if args.command == "pages" else bench_bulk(args)
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

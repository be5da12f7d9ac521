"""Time the admin review queue's changelist on a large SQLite database.

    python -m bench.review [--candidates 100000] [--runs 20] [--db PATH]

Builds (or reuses) a SQLite database with `--candidates` candidates, two per job, spread over
five shops, then requests 100-row changelist pages through Django's test client as a
superuser: the default "waiting for review" page, a filtered page, a search and a later page.
Each request goes through the whole admin stack (middleware, queries, template rendering).
The last line printed is one JSON object with the median and 95th percentile per page in
milliseconds and the SQL query count of each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

SHOPS = 5
CANDIDATES_PER_JOB = 2
BATCH = 5000


def _setup_django(db_path: Path) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{db_path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wearview.settings")
    os.environ.setdefault("WEARVIEW_LOG_LEVEL", "WARNING")
    import django

    django.setup()


def _populate(candidates: int) -> None:
    from django.contrib.auth.models import User
    from django.utils import timezone

    from wearview.catalog.models import Product, ProductImage, Shop, Variant
    from wearview.imaging.category import CATEGORIES
    from wearview.studio.models import Candidate, GenerationJob, JobState

    if Candidate.objects.count() >= candidates:
        return
    now = timezone.now()
    shops = [
        Shop.objects.create(domain=f"bench-{index}.myshopify.com", installed_at=now)
        for index in range(SHOPS)
    ]
    jobs_needed = candidates // CANDIDATES_PER_JOB
    categories = [category for category in CATEGORIES if category != "unknown"]
    for start in range(0, jobs_needed, BATCH):
        numbers = range(start, min(start + BATCH, jobs_needed))
        products = Product.objects.bulk_create(
            Product(
                shop=shops[number % SHOPS],
                shopify_id=f"gid://shopify/Product/{number}",
                handle=f"bench-product-{number}",
                title=f"Bench product {number}",
                product_type="T-Shirt",
            )
            for number in numbers
        )
        variants = Variant.objects.bulk_create(
            Variant(
                shop=product.shop,
                product=product,
                shopify_id=f"gid://shopify/ProductVariant/{product.pk}",
                sku=f"BENCH-{product.pk}",
            )
            for product in products
        )
        images = ProductImage.objects.bulk_create(
            ProductImage(
                shop=product.shop,
                product=product,
                shopify_media_id=f"gid://shopify/MediaImage/{product.pk}",
                stored=f"bench/{product.pk}.png",
            )
            for product in products
        )
        # Most jobs wait for review, as in a busy queue; the rest are decided or published.
        states = [JobState.IN_REVIEW] * 8 + [JobState.APPROVED, JobState.PUBLISHED]
        jobs = GenerationJob.objects.bulk_create(
            GenerationJob(
                shop=product.shop,
                product=product,
                source_image=image,
                state=states[product.pk % len(states)],
                preset="restyle",
                prepared={
                    "category": categories[product.pk % len(categories)],
                    "source_key": f"bench/jobs/{product.pk}/canvas.png",
                    "mask_key": f"bench/jobs/{product.pk}/mask.png",
                },
                parameters={"seeds": [11, 23]},
            )
            for product, image in zip(products, images, strict=True)
        )
        GenerationJob.variants.through.objects.bulk_create(
            GenerationJob.variants.through(generationjob_id=job.pk, variant_id=variant.pk)
            for job, variant in zip(jobs, variants, strict=True)
        )
        Candidate.objects.bulk_create(
            Candidate(
                job=job,
                round=1,
                image=f"bench/jobs/{job.pk}/c{rank}.png",
                thumbnail=f"bench/jobs/{job.pk}/c{rank}.thumb.jpg",
                seed=11 + rank,
                garment_strength=0.06,
                background_strength=0.5,
                score=((job.pk * 7 + rank * 13) % 100) / 100,
                passed=((job.pk * 7 + rank * 13) % 100) >= 80,
                rank=rank,
            )
            for job in jobs
            for rank in range(CANDIDATES_PER_JOB)
        )
        print(f"  {min(start + BATCH, jobs_needed) * CANDIDATES_PER_JOB} candidates", flush=True)
    if not User.objects.filter(username="bench").exists():
        User.objects.create_superuser("bench", "bench@example.test", "bench")


def _time_page(client, url: str, runs: int) -> dict:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    timings = []
    queries = 0
    for _ in range(runs):
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
        if response.status_code != 200:
            raise SystemExit(f"{url}: HTTP {response.status_code}")
        queries = len(captured.captured_queries)
        rows = response.content.decode().count('name="_selected_action"')
    timings.sort()
    return {
        "median_ms": round(statistics.median(timings), 1),
        "p95_ms": round(timings[max(0, int(len(timings) * 0.95) - 1)], 1),
        "queries": queries,
        "rows": rows,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Time 100-row pages of the review queue.")
    parser.add_argument("--candidates", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=20, help="requests per page")
    parser.add_argument("--db", help="SQLite file to build or reuse; a temporary file when omitted")
    args = parser.parse_args(argv)

    db_path = Path(args.db) if args.db else Path(tempfile.mkdtemp()) / "review-bench.sqlite3"
    _setup_django(db_path)

    from django.core.management import call_command
    from django.test import Client
    from django.urls import reverse

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    _populate(args.candidates)
    print(f"database ready in {time.perf_counter() - started:.1f} s: {db_path}", flush=True)

    from django.contrib.auth.models import User

    from wearview.studio.models import Candidate

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username="bench"))
    base = reverse("admin:studio_candidate_changelist")
    pages = {
        "waiting_first_page": base,
        "all_page_50": f"{base}?queue=all&p=50",
        "filtered_score_category": f"{base}?score=high&category=top",
        "search_sku": f"{base}?queue=all&q=BENCH-4242",
    }
    client.get(base)  # warm the template and URL caches
    results = {name: _time_page(client, url, args.runs) for name, url in pages.items()}
    summary = {
        "candidates": Candidate.objects.count(),
        "page_size": 100,
        "runs": args.runs,
        "pages": results,
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())

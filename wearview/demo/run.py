"""The main job end to end on one machine: the `demo` management command's work.

It runs the dev store in this process, starts the web server, a Celery worker and a GPU-queue
worker as child processes on the embedded broker, installs the app on the dev store the way a
shop does, syncs, and then waits while the workers classify, prepare, generate and (with
auto-approve) publish. The final check reads the dev store directly.
"""

import csv
import io
import json
import logging
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.db.models import Count, Q

from wearview.demo.check import check_published, take_snapshot
from wearview.demo.processes import ProcessFailed, ProcessGroup, free_port
from wearview.demo.webhook_flow import FlowFailed, run_webhook_flow

logger = logging.getLogger(__name__)

DEMO_SHOP = "wearview-demo.myshopify.com"


class DemoFailed(RuntimeError):
    pass


@dataclass
class DemoOptions:
    csv_path: Path
    images_dir: Path
    auto_approve: bool = False
    limit: int | None = None
    keep_running: bool = False
    timeout: float = 540.0
    web_port: int | None = None
    webhook_flow: bool = False


@dataclass
class DemoSummary:
    products: int = 0
    images: int = 0
    classified: int = 0
    needs_on_model: int = 0
    jobs: int = 0
    candidates: int = 0
    approved: int = 0
    published: int = 0
    failed: int = 0
    seconds: float = 0.0
    webhook_flow: dict | None = None
    problems: list[str] = field(default_factory=list)

    def as_json(self) -> str:
        data = asdict(self)
        data.pop("problems")
        if self.webhook_flow is None:
            data.pop("webhook_flow")
        data["seconds"] = round(self.seconds, 1)
        return json.dumps(data, sort_keys=False)


def limited_csv(path: Path, limit: int | None, target: Path) -> Path:
    """Write the rows of the first `limit` products (by Handle) of a product CSV to `target`."""
    if limit is None:
        return path
    if limit < 1:
        raise DemoFailed(f"--limit {limit} is invalid; give a whole number of products from 1.")
    with path.open(newline="", encoding="utf-8-sig") as source:
        reader = csv.DictReader(source)
        handles: list[str] = []
        rows = []
        for row in reader:
            handle = row.get("Handle", "")
            if handle not in handles:
                if len(handles) == limit:
                    continue
                handles.append(handle)
            rows.append(row)
        fieldnames = reader.fieldnames or []
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=fieldnames)
    writer.writeheader()
    writer.writerows(rows)
    target.write_text(buffer.getvalue(), encoding="utf-8")
    return target


class Demo:
    def __init__(self, options: DemoOptions, out=sys.stdout):
        self.options = options
        self.out = out
        self.started = time.monotonic()
        self.store = None
        self.processes: ProcessGroup | None = None
        self.web_url = ""

    # --- output -------------------------------------------------------------------------------

    def say(self, message: str) -> None:
        elapsed = time.monotonic() - self.started
        self.out.write(f"[{elapsed:6.1f}s] {message}\n")
        self.out.flush()

    # --- stages -------------------------------------------------------------------------------

    def run(self) -> DemoSummary:
        try:
            self._prepare_database()
            self._start_dev_store()
            self._start_processes()
            shop = self._install()
            before = take_snapshot(self.store, DEMO_SHOP)
            self._sync(shop)
            self._wait_for_review(shop)
            if self.options.auto_approve:
                self._approve_and_publish(shop)
            summary = self._summarise(shop)
            if self.options.auto_approve:
                summary.problems += check_published(
                    self.store, DEMO_SHOP, before, self._expected_publications(shop)
                )
            if self.options.webhook_flow:
                flow = run_webhook_flow(
                    store=self.store,
                    domain=DEMO_SHOP,
                    shop=shop,
                    say=self.say,
                    check_alive=self.processes.check_alive,
                    timeout=self.options.timeout / 2,
                )
                summary.webhook_flow = flow.as_dict()
                summary.problems += flow.problems
            summary.seconds = time.monotonic() - self.started
            return summary
        finally:
            if not self.options.keep_running:
                self.stop()

    def stop(self) -> None:
        # The dev store goes first, so it sends no webhook to a web server that is stopping.
        if self.store is not None:
            self.store.stop()
            self.store = None
        if self.processes is not None:
            self.processes.stop_all()
            self.processes = None

    def _prepare_database(self) -> None:
        from wearview.catalog.models import Shop

        call_command("migrate", verbosity=0, interactive=False)
        # A new run starts from an empty demo shop, so its counts describe this run alone. Only
        # the key is loaded: an earlier run may have encrypted its tokens with another
        # development key, and deleting needs no token.
        deleted, _ = Shop.objects.filter(domain=DEMO_SHOP).only("pk").delete()
        self.say(
            f"Database ready ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})"
            + (", previous demo shop erased" if deleted else "")
        )

    def _start_dev_store(self) -> None:
        from integrations.shopify.devstore import DevStore

        self.web_url = f"http://127.0.0.1:{self.options.web_port or free_port()}"
        self.store = DevStore(
            settings.SHOPIFY_API_KEY, settings.SHOPIFY_API_SECRET, app_url=self.web_url
        )
        csv_path = limited_csv(
            self.options.csv_path, self.options.limit, settings.VAR_DIR / "demo-catalog.csv"
        )
        report = self.store.add_shop(DEMO_SHOP, csv=csv_path, images=self.options.images_dir)
        for name in report.unmatched_images:
            self.say(f"  skipped: no image file named {name} in {self.options.images_dir}")
        self.store_url = self.store.start()
        # This process talks to the dev store too (install, webhook registration).
        settings.SHOPIFY_ADMIN_BASE_URL = self.store_url
        settings.WEARVIEW_APP_URL = self.web_url
        self.say(
            f"Dev store {DEMO_SHOP} at {self.store_url}: {report.products} products, "
            f"{report.variants} variants, {report.images} images"
        )

    def _start_processes(self) -> None:
        env = {
            **os.environ,
            "SHOPIFY_ADMIN_BASE_URL": self.store_url,
            "WEARVIEW_APP_URL": self.web_url,
            "PYTHONUNBUFFERED": "1",
        }
        self.processes = ProcessGroup(
            root=settings.BASE_DIR, log_dir=settings.VAR_DIR / "demo-logs", env=env
        )
        port = self.web_url.rsplit(":", 1)[1]
        web = self.processes.start_python(
            "web",
            ["-m", "gunicorn", "wearview.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "2"],
        )
        worker = self.processes.start_python(
            "worker",
            [
                "-m",
                "celery",
                "-A",
                "wearview",
                "worker",
                "-Q",
                "default,publish",
                "--concurrency",
                "2",
                "--loglevel",
                "INFO",
                "-n",
                "demo-worker@%h",
            ],
        )
        gpu_worker = self.processes.start_python(
            "gpu-worker",
            [
                "-m",
                "celery",
                "-A",
                "wearview",
                "worker",
                "-Q",
                "gpu",
                "-I",
                "wearview.engine.tasks",
                "--pool",
                "solo",
                "--prefetch-multiplier",
                "1",
                "--loglevel",
                "INFO",
                "-n",
                "demo-gpu@%h",
            ],
        )
        self.processes.wait_for_http(web, f"{self.web_url}/healthz", timeout=60)
        self.processes.wait_for_log(worker, "ready.", timeout=90)
        self.processes.wait_for_log(gpu_worker, "ready.", timeout=180)
        self.say(f"Web server at {self.web_url}, worker and GPU worker ready")

    def _install(self):
        from integrations.shopify.auth import shop_install_with_session_token
        from wearview.catalog.models import PublishMode, Shop

        session_token = self.store.mint_session_token(DEMO_SHOP)
        shop = shop_install_with_session_token(session_token=session_token)
        # The demo opens jobs the way a shop with auto-generate does, and publishes only what
        # it approves itself.
        Shop.objects.filter(pk=shop.pk).update(auto_generate=True, publish_mode=PublishMode.MANUAL)
        shop.refresh_from_db()
        self.say(f"Installed on {shop.domain} by token exchange (scopes: {shop.scopes})")
        return shop

    def _sync(self, shop) -> None:
        from integrations.shopify.services import shop_register_webhooks
        from integrations.shopify.tasks import sync_shop_task

        subscriptions = shop_register_webhooks(shop=shop)
        self.say(f"{len(subscriptions)} webhook subscriptions registered")
        sync_shop_task.delay(shop.pk).get(timeout=self.options.timeout)
        self.say(f"Full sync done: {shop.products.count()} products")

    def _counts(self, shop) -> dict[str, int]:
        from wearview.catalog.models import ImageOrigin, ProductImage
        from wearview.studio.models import GenerationJob

        # Images WearView published are counted as published jobs, not as catalog images.
        images = ProductImage.objects.filter(shop=shop, origin=ImageOrigin.MERCHANT)
        image_counts = images.aggregate(
            total=Count("pk"),
            classified=Count("pk", filter=Q(classification__isnull=False)),
            errors=Count("pk", filter=~Q(error_code="")),
        )
        jobs = dict(
            GenerationJob.objects.filter(shop=shop)
            .values_list("state")
            .annotate(n=Count("pk"))
            .values_list("state", "n")
        )
        return {**image_counts, **{f"jobs_{state}": n for state, n in jobs.items()}}

    def _wait(self, shop, done, label: str) -> dict[str, int]:
        deadline = self.started + self.options.timeout
        last_line = ""
        while True:
            self.processes.check_alive()
            counts = self._counts(shop)
            line = ", ".join(f"{key} {value}" for key, value in sorted(counts.items()))
            if line != last_line:
                self.say(f"  {label}: {line}")
                last_line = line
            if done(counts):
                return counts
            if time.monotonic() > deadline:
                raise DemoFailed(
                    f"{label} did not finish within {self.options.timeout:.0f} s "
                    f"(last counts: {line}); the process logs are in "
                    f"{settings.VAR_DIR / 'demo-logs'}"
                )
            time.sleep(1.0)

    def _wait_for_review(self, shop) -> None:
        from wearview.catalog.selectors import product_only_images, products_needing_on_model

        def settled(counts: dict[str, int]) -> bool:
            if counts["classified"] + counts["errors"] < counts["total"]:
                return False
            working = sum(counts.get(f"jobs_{s}", 0) for s in ("queued", "preparing", "generating"))
            if working:
                return False
            # Every product that needs photos and has a source to start from must have a job.
            for product in products_needing_on_model(shop=shop):
                if product_only_images(product=product).exists() and not product.jobs.exists():
                    return False
            return True

        self._wait(shop, settled, "classify and generate")
        self.say("Every job is in review or has failed")

    def _approve_and_publish(self, shop) -> None:
        from wearview.studio.models import GenerationJob, JobState
        from wearview.studio.review import candidate_approve, job_publish

        for job in GenerationJob.objects.filter(shop=shop, state=JobState.IN_REVIEW):
            best = (
                job.candidates.filter(round=job.round, passed=True)
                .order_by("-score", "rank")
                .first()
            )
            if best is None:
                self.say(f"  job {job.pk}: no candidate passed the fidelity gate; left in review")
                continue
            candidate_approve(candidate_id=best.pk, actor="demo --auto-approve")
            job_publish(job_id=job.pk, actor="demo --auto-approve")

        def published(counts: dict[str, int]) -> bool:
            return not counts.get("jobs_approved", 0) and not counts.get("jobs_publishing", 0)

        self._wait(shop, published, "publish")
        # Let the dev store deliver the webhooks the publishing caused; the app must ignore
        # them, and the final counts should include that.
        self.store.wait_idle(timeout=15)

    def _expected_publications(self, shop) -> dict[int, tuple[list[int], str]]:
        from wearview.studio.models import GenerationJob, JobState

        expected = {}
        jobs = GenerationJob.objects.filter(shop=shop, state=JobState.PUBLISHED).select_related(
            "product"
        )
        for job in jobs.prefetch_related("variants"):
            product_id = _numeric_id(job.product.shopify_id)
            variant_ids = [_numeric_id(variant.shopify_id) for variant in job.variants.all()]
            expected[product_id] = (variant_ids, shop.disclosure_text)
        return expected

    def _summarise(self, shop) -> DemoSummary:
        from wearview.catalog.selectors import variants_needing_on_model
        from wearview.studio.models import Candidate, GenerationJob, JobState

        counts = self._counts(shop)
        jobs = GenerationJob.objects.filter(shop=shop)
        return DemoSummary(
            products=shop.products.filter(deleted_at__isnull=True).count(),
            images=counts["total"],
            classified=counts["classified"],
            needs_on_model=len(
                {
                    variant.product_id
                    for variant in variants_needing_on_model(shop=shop).only("product_id")
                }
                | set(jobs.values_list("product_id", flat=True))
            ),
            jobs=jobs.count(),
            candidates=Candidate.objects.filter(job__shop=shop).count(),
            approved=jobs.filter(approved_candidate__isnull=False).count(),
            published=jobs.filter(state=JobState.PUBLISHED).count(),
            failed=jobs.filter(state=JobState.FAILED).count() + counts["errors"],
        )


def _numeric_id(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


__all__ = [
    "DEMO_SHOP",
    "Demo",
    "DemoFailed",
    "DemoOptions",
    "DemoSummary",
    "FlowFailed",
    "ProcessFailed",
]

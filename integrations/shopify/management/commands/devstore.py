"""Run the local dev store (a stand-in for the Shopify Admin API) as its own process."""

from __future__ import annotations

import signal
import threading

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from integrations.shopify.devstore import PLANS, DevStore


class Command(BaseCommand):
    help = "Serve a local Shopify Admin API (version 2026-10) seeded from a product CSV."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--port", type=int, default=8765, help="TCP port on 127.0.0.1 (0 picks one)."
        )
        parser.add_argument("--csv", required=True, help="Product CSV in Shopify's import format.")
        parser.add_argument(
            "--images", required=True, help="Folder whose files match Image Src names."
        )
        parser.add_argument(
            "--plan", choices=sorted(PLANS), default="standard", help="Rate-limit plan."
        )
        parser.add_argument(
            "--shop", default="wearview-dev.myshopify.com", help="Shop domain to create."
        )
        parser.add_argument(
            "--app-url",
            default=None,
            help="Base URL of the app; webhooks go to APP_URL/shopify/webhooks.",
        )
        parser.add_argument(
            "--webhook-secret",
            default=None,
            help="App secret that signs webhooks and session tokens (default SHOPIFY_API_SECRET).",
        )
        parser.add_argument(
            "--api-key", default=None, help="App API key (default SHOPIFY_API_KEY)."
        )
        parser.add_argument(
            "--install",
            action="store_true",
            help="Install the app at start and print an offline token.",
        )

    def handle(self, *args, **options) -> None:
        api_key = options["api_key"] or getattr(settings, "SHOPIFY_API_KEY", "")
        secret = options["webhook_secret"] or getattr(settings, "SHOPIFY_API_SECRET", "")
        try:
            store = DevStore(api_key, secret, app_url=options["app_url"])
            report = store.add_shop(
                options["shop"], plan=options["plan"], csv=options["csv"], images=options["images"]
            )
        except ValueError as error:
            raise CommandError(str(error)) from error
        for name in report.unmatched_images:
            self.stderr.write(f"No image file for {name}; skipped.")
        base_url = store.start(port=options["port"])
        self.stdout.write(
            f"Dev store {options['shop']} ({options['plan']} plan): {report.products} products, "
            f"{report.variants} variants, {report.images} images."
        )
        self.stdout.write(f"Admin API: {store.admin_url(options['shop'])}")
        if options["install"]:
            token = store.install(options["shop"])["access_token"]
            self.stdout.write(f"Offline access token: {token}")
        stopped = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stopped.set())
        try:
            stopped.wait()
        except KeyboardInterrupt:
            pass
        finally:
            store.stop()
            self.stdout.write(f"Dev store at {base_url} stopped.")

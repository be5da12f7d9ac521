"""Asynchronous media processing: UPLOADED, PROCESSING, then READY or FAILED."""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import time
from typing import TYPE_CHECKING
from urllib.parse import urlparse

from .media import ImageInfo, MediaProblem, inspect_image
from .models import MediaImage, utc_now

if TYPE_CHECKING:
    from .store import DevStore

logger = logging.getLogger(__name__)


class MediaProcessor:
    """Moves new media through Shopify's states in a background thread."""

    def __init__(self, store: DevStore, processing_seconds: float = 0.2) -> None:
        self.store = store
        self.processing_seconds = processing_seconds
        self._queue: list[tuple[float, int, str, int, str]] = []
        self._order = itertools.count()
        self._condition = threading.Condition()
        self._thread: threading.Thread | None = None
        self._stopping = False
        self._busy = 0

    def schedule(self, shop_domain: str, media_id: int) -> None:
        half = self.processing_seconds / 2
        now = time.monotonic()
        with self._condition:
            heapq.heappush(
                self._queue, (now + half, next(self._order), shop_domain, media_id, "PROCESSING")
            )
            heapq.heappush(
                self._queue, (now + 2 * half, next(self._order), shop_domain, media_id, "DONE")
            )
            self._condition.notify_all()

    def start(self) -> None:
        if self._thread is None:
            self._stopping = False
            self._thread = threading.Thread(target=self._run, name="devstore-media", daemon=True)
            self._thread.start()

    def stop(self) -> None:
        with self._condition:
            self._stopping = True
            self._condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def wait_idle(self, timeout: float = 10.0) -> bool:
        deadline = time.monotonic() + timeout
        with self._condition:
            while self._queue or self._busy:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(min(remaining, 0.05))
        return True

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopping:
                    if self._queue and self._queue[0][0] <= time.monotonic():
                        break
                    wait = self._queue[0][0] - time.monotonic() if self._queue else 0.5
                    self._condition.wait(max(0.001, min(wait, 0.5)))
                if self._stopping:
                    return
                _, _, shop_domain, media_id, stage = heapq.heappop(self._queue)
                self._busy += 1
            try:
                self._advance(shop_domain, media_id, stage)
            except Exception:
                logger.exception("Media %s of %s failed to process", media_id, shop_domain)
            finally:
                with self._condition:
                    self._busy -= 1
                    self._condition.notify_all()

    def _advance(self, shop_domain: str, media_id: int, stage: str) -> None:
        with self.store.lock:
            shop = self.store.shops.get(shop_domain)
            media = shop.files.get(media_id) if shop else None
            if media is None or media.status in ("READY", "FAILED"):
                return
            if stage == "PROCESSING":
                media.status = "PROCESSING"
                media.updated_at = utc_now()
                return
            result = self._inspect(media)
            faults = self.store.faults
            if isinstance(result, ImageInfo) and (
                media.fail_after_processing or faults.draw(faults.faults.media_fail_rate)
            ):
                result = MediaProblem(
                    "IMAGE_PROCESSING_FAILURE", "Image processing failed after the upload."
                )
            if isinstance(result, ImageInfo):
                media.status = "READY"
                media.width, media.height, media.mime_type = (
                    result.width,
                    result.height,
                    result.mime_type,
                )
                media.errors = []
            else:
                media.status = "FAILED"
                media.errors = [result.as_graphql()]
                media.content = None
                logger.info("Media %s of %s failed: %s", media.gid, shop_domain, result.code)
            media.updated_at = utc_now()
            media.version += 1
            products = [shop.products[pid] for pid in media.product_ids if pid in shop.products]
            for product in products:
                product.updated_at = utc_now()
        # Shopify sends products/update when a product's media finishes processing.
        for product in products:
            self.store.product_changed(shop, product, "products/update")

    def _inspect(self, media: MediaImage) -> ImageInfo | MediaProblem:
        content = self._download(media)
        if content is None:
            return MediaProblem(
                "IMAGE_DOWNLOAD_FAILURE",
                f"Image could not be downloaded from {media.original_source}.",
            )
        media.content = content
        return inspect_image(content)

    def _download(self, media: MediaImage) -> bytes | None:
        """Read the bytes behind `originalSource`; the dev store reaches only its own URLs."""
        base = urlparse(self.store.base_url)
        source = urlparse(media.original_source)
        if (source.scheme, source.netloc) != (base.scheme, base.netloc):
            return None
        path = source.path
        if path.startswith("/staged-uploads/"):
            key = path[len("/staged-uploads/") :]
            shop = self.store.shops.get(media.shop_domain)
            staged = shop.staged.get(key) if shop else None
            return staged.content if staged else None
        if path.startswith("/cdn/shop/files/"):
            found = self.store.find_media_by_cdn_path(path)
            return found.read_content() if found else None
        return None

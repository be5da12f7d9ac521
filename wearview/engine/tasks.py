"""The Celery task of the GPU worker, on the `gpu` queue.

Start the worker with the engine's tasks imported and one process per GPU:

    celery -A wearview worker -Q gpu -I wearview.engine.tasks --pool solo --prefetch-multiplier 1

The model is loaded once per worker process and warmed up when the process starts.
"""

from __future__ import annotations

import logging
import os

from celery import signals
from celery.exceptions import SoftTimeLimitExceeded

from wearview.celery import QUEUE_GPU, app
from wearview.engine.jobs import run_generation, send_failure
from wearview.errors import TransientError

logger = logging.getLogger(__name__)

# A request makes up to 16 seeds x 4 auto-strength levels. The tiny pipeline on a 2-core CPU
# takes a few seconds per 512-pixel candidate, so the limit leaves room for that too.
SOFT_TIME_LIMIT_S = int(os.environ.get("WEARVIEW_ENGINE_SOFT_TIME_LIMIT", "900"))
TIME_LIMIT_S = SOFT_TIME_LIMIT_S + 60


@app.task(
    bind=True,
    name="wearview.engine.tasks.generate_candidates_task",
    # The app's task_routes send every wearview.engine.tasks.* task to the gpu queue.
    acks_late=True,
    reject_on_worker_lost=True,
    soft_time_limit=SOFT_TIME_LIMIT_S,
    time_limit=TIME_LIMIT_S,
    autoretry_for=(TransientError,),
    max_retries=3,
)
def generate_candidates_task(self, payload: dict | list[dict]) -> int:
    """Generate candidates for one request, or a list of requests batched together.

    Returns the number of jobs that produced candidates.
    """
    payloads = payload if isinstance(payload, list) else [payload]
    final_attempt = self.request.retries >= self.max_retries
    try:
        results = run_generation(payloads, send_task=app.send_task, final_attempt=final_attempt)
    except SoftTimeLimitExceeded:
        for item in payloads:
            if isinstance(item, dict) and isinstance(item.get("job_id"), int):
                send_failure(
                    app.send_task,
                    item["job_id"],
                    int(item.get("round") or 0),
                    f"generation timed out after {SOFT_TIME_LIMIT_S} s; "
                    "lower the number of seeds, strength levels or steps",
                )
        return 0
    return len(results)


def _consumes_gpu_queue() -> bool:
    queues = app.amqp.queues.consume_from
    # No -Q option means the worker consumes every configured queue, the gpu queue included.
    return not queues or QUEUE_GPU in queues


@signals.worker_process_init.connect
def warm_up_engine(**kwargs) -> None:
    """Load the model and run one short generation when a gpu worker process starts."""
    if os.environ.get("WEARVIEW_ENGINE_WARM_UP", "1").strip().lower() in ("0", "false", "no"):
        return
    if not _consumes_gpu_queue():
        return
    from wearview.engine.loading import get_engine
    from wearview.engine.warmup import warm_up

    try:
        warm_up(get_engine())
    except Exception:
        # The first task loads the model again and fails with the reason if it still cannot.
        logger.exception("Engine warm-up failed")

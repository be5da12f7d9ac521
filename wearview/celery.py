"""The Celery application: queues, routing and the retry policy shared by every task."""

import logging
import os
import sqlite3

from celery import Celery, Task
from django.db import InterfaceError, OperationalError
from kombu import Queue
from sqlalchemy import event
from sqlalchemy.engine import Engine

from wearview.errors import TransientError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "wearview.settings")

logger = logging.getLogger(__name__)

app = Celery("wearview")
app.config_from_object("django.conf:settings", namespace="CELERY")

QUEUE_DEFAULT = "default"
QUEUE_PUBLISH = "publish"
QUEUE_GPU = "gpu"


app.conf.update(
    task_queues=(Queue(QUEUE_DEFAULT), Queue(QUEUE_PUBLISH), Queue(QUEUE_GPU)),
    task_default_queue=QUEUE_DEFAULT,
    task_routes=(
        [
            ("wearview.engine.tasks.*", {"queue": QUEUE_GPU}),
            ("*.publish_*", {"queue": QUEUE_PUBLISH}),
            ("*.withdraw_*", {"queue": QUEUE_PUBLISH}),
        ],
    ),
    # Tasks are written to run twice without doing the work twice, so a message is acknowledged
    # only after the task finishes, and a worker killed mid-task hands it back to the broker.
    task_acks_late=True,
    task_reject_on_worker_lost=True,
    # Generation runs for seconds to minutes; a worker must not hold messages that another idle
    # worker could take. The GPU worker is started with a prefetch multiplier of 1 as well.
    worker_prefetch_multiplier=1,
    task_serializer="json",
    result_serializer="json",
    accept_content=["json"],
    result_expires=24 * 3600,
    broker_connection_retry_on_startup=True,
    worker_hijack_root_logger=False,
    task_track_started=True,
)


class WearViewTask(Task):
    """Base task: retries transient errors with capped exponential backoff and jitter.

    A lost database connection (the server restarting, a failover) is transient too: the task
    fails before it commits, and Celery's Django fixup opens a new connection for the retry.
    """

    autoretry_for = (TransientError, OperationalError, InterfaceError)
    retry_backoff = True
    retry_backoff_max = 300
    retry_jitter = True
    max_retries = 8

    def on_retry(self, exc, task_id, args, kwargs, einfo):
        logger.warning("Task %s [%s] will be retried: %s (args=%r)", self.name, task_id, exc, args)

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        logger.error("Task %s [%s] failed: %s (args=%r)", self.name, task_id, exc, args)


app.Task = WearViewTask


def _sqlite_engine_pragmas(dbapi_connection, connection_record) -> None:
    """Put the SQLite files of the embedded broker and result backend in WAL mode.

    kombu's SQLAlchemy transport commits twice per message. In SQLite's default rollback
    journal mode each commit syncs the file to disk, and readers block the writer. In WAL mode
    with `synchronous=NORMAL` a commit is a write to the log, so the web server, the workers
    and beat do not block each other. kombu cannot pass these settings itself (see the note in
    settings.py), so they are set on every new connection.
    """
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=30000")
    finally:
        cursor.close()


# SQLAlchemy is used by nothing else in the project: its only engines are kombu's and the
# result backend's, and the listener leaves every database but SQLite alone.
event.listen(Engine, "connect", _sqlite_engine_pragmas)

# The engine's tasks are not discovered here: importing them loads torch, which only the GPU
# worker needs. That worker is started with `-I wearview.engine.tasks`.
app.autodiscover_tasks(["wearview", "wearview.catalog", "wearview.studio", "integrations.shopify"])

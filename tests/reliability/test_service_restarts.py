"""PostgreSQL and Redis restart while a worker is processing webhook deliveries: once they
are back, the run resumes and every delivery is processed; nothing is lost.

These scenarios need the production services and skip on the embedded defaults; `.ci/run`
runs them in its second pass. Each one starts the service again in a `finally` block and waits
until it responds."""

from __future__ import annotations

import subprocess
import threading
import time
from pathlib import Path

import pytest
from django.db import close_old_connections, connection

from integrations.shopify.models import WebhookDelivery, WebhookDeliveryStatus
from integrations.shopify.services import webhook_delivery_record
from tests.reliability.conftest import Stack, broker_is_redis, database_is_postgres

pytestmark = [pytest.mark.reliability, pytest.mark.integration]

SHOP_DOMAIN = "wearview-restarts.myshopify.com"
FAST_ENV = {
    "WEARVIEW_RECONCILE_INTERVAL": "3",
    "WEARVIEW_QUEUED_LIMIT": "10",
    "WEARVIEW_PREPARING_LIMIT": "10",
}


def _run(command: list[str], timeout: float = 60) -> None:
    subprocess.run(command, check=True, timeout=timeout, capture_output=True)


def _wait_for(command: list[str], what: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if subprocess.run(command, capture_output=True).returncode == 0:
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} did not respond within {timeout:.0f} s after its restart")


def restart_postgres(down_seconds: float) -> None:
    version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[0]
    control = ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main"]
    try:
        _run([*control, "stop", "--mode", "fast"])
        time.sleep(down_seconds)
    finally:
        _run([*control, "start"])
        _wait_for(["pg_isready", "-h", "127.0.0.1", "-p", "5432"], "PostgreSQL")


def restart_redis(down_seconds: float) -> None:
    try:
        subprocess.run(
            ["redis-cli", "-h", "127.0.0.1", "shutdown", "nosave"], capture_output=True, timeout=30
        )
        time.sleep(down_seconds)
    finally:
        _run(
            [
                "redis-server",
                "--daemonize",
                "yes",
                "--bind",
                "127.0.0.1",
                "-::1",
                "--port",
                "6379",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                "/var/lib/redis",
                "--logfile",
                "/var/log/redis/ci.log",
            ]
        )
        _wait_for(["redis-cli", "-h", "127.0.0.1", "ping"], "Redis")


def _record_deliveries(count: int, prefix: str) -> list[int]:
    ids = []
    for number in range(count):
        delivery_id = webhook_delivery_record(
            topic="customers/data_request",
            shop_domain=SHOP_DOMAIN,
            webhook_id=f"{prefix}-{number}",
            event_id=f"{prefix}-{number}",
            api_version="2026-10",
            triggered_at="",
            payload={"shop_domain": SHOP_DOMAIN, "customer": {"id": number}},
        )
        ids.append(delivery_id)
    return ids


def _processed(ids: list[int]) -> int:
    close_old_connections()
    try:
        return WebhookDelivery.objects.filter(
            pk__in=ids, status=WebhookDeliveryStatus.PROCESSED
        ).count()
    except Exception:  # the database is down for a moment
        connection.close()
        return -1


def _scenario(stack: Stack, restart, sizes, figure, label: str) -> None:
    from integrations.shopify.tasks import process_webhook_task

    stack.env.update(FAST_ENV)
    stack.start_worker("worker", "default")
    beat = stack.group.start_python(
        "beat",
        [
            "-m",
            "celery",
            "-A",
            "wearview",
            "beat",
            "--loglevel",
            "INFO",
            "-s",
            str(stack.group.log_dir / "beat"),
        ],
    )
    stack.group.wait_for_log(beat, "beat: Starting", timeout=60)
    count = 100 if sizes.mode == "short" else 1000
    ids = _record_deliveries(count, label)
    for pk in ids:
        process_webhook_task.delay(pk)
    # The service goes away while the worker is in the middle of the deliveries.
    deadline = time.monotonic() + 60
    while 0 <= _processed(ids) < count // 5:
        assert time.monotonic() < deadline, "the worker processed nothing within 60 s"
        time.sleep(0.1)
    started = time.monotonic()
    failure: list[BaseException] = []

    def restart_in_background() -> None:
        try:
            restart(3.0)
        except BaseException as exc:
            failure.append(exc)

    thread = threading.Thread(target=restart_in_background)
    thread.start()
    thread.join(timeout=120)
    assert not failure, failure
    connection.close()
    deadline = time.monotonic() + 120
    done = _processed(ids)
    while done < count and time.monotonic() < deadline:
        time.sleep(1.0)
        done = _processed(ids)
    seconds = time.monotonic() - started
    left = WebhookDelivery.objects.filter(pk__in=ids).exclude(
        status=WebhookDeliveryStatus.PROCESSED
    )
    assert done == count, f"{left.count()} of {count} deliveries not processed: " + ", ".join(
        f"{d.webhook_id} {d.status}" for d in left[:10]
    )
    figure(f"{label}_deliveries", count)
    figure(f"{label}_resume_seconds", round(seconds, 1), "s")


@pytest.fixture
def restart_db(transactional_db):
    if not database_is_postgres():
        pytest.skip("needs PostgreSQL (DATABASE_URL=postgres://...); .ci/run's second pass")


def test_postgres_restart_run_resumes(restart_db, stack, sizes, figure):
    _scenario(stack, restart_postgres, sizes, figure, "postgres_restart")


def test_redis_restart_run_resumes(transactional_db, stack, sizes, figure):
    if not broker_is_redis():
        pytest.skip("needs Redis (CELERY_BROKER_URL=redis://...); .ci/run's second pass")
    _scenario(stack, restart_redis, sizes, figure, "redis_restart")

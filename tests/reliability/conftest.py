"""Fixtures of the reliability suite: scenario sizes, measured figures, the services a
scenario needs, and the processes (web server, workers) it starts on 127.0.0.1.

Every scenario is marked `reliability`; `WEARVIEW_RELIABILITY=long` runs the full counts.
"""

from __future__ import annotations

import json
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection
from kombu import pools as kombu_pools

from tests.reliability.secret_scan import current_scanner
from tests.reliability.sizes import Sizes, current_sizes
from tests.shopify.conftest import (  # noqa: F401 - fixtures shared with the Shopify tests
    eager_celery,
    sample_catalog,
    shopify_settings,
)
from wearview.demo.processes import ProcessGroup, ServiceProcess, free_port

ROOT = Path(__file__).resolve().parents[2]


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.reliability)


@pytest.fixture(scope="session")
def sizes() -> Sizes:
    return current_sizes()


@pytest.fixture
def figure(record_property, request):
    """Record one measured figure: printed (visible with -s), in the JUnit properties, and
    appended as a JSON line to WEARVIEW_RELIABILITY_REPORT when that names a file."""
    report_path = os.environ.get("WEARVIEW_RELIABILITY_REPORT")

    def record(name: str, value: float | int | str, unit: str = "") -> None:
        record_property(name, value)
        print(f"\n[reliability] {request.node.name}: {name} = {value} {unit}".rstrip())
        if report_path:
            line = {
                "test": request.node.nodeid,
                "mode": current_sizes().mode,
                "name": name,
                "value": value,
                "unit": unit,
                "database": connection.vendor,
                "broker": settings.CELERY_BROKER_URL.split(":", 1)[0],
            }
            with open(report_path, "a", encoding="utf-8") as handle:
                handle.write(json.dumps(line) + "\n")

    return record


# --- services ----------------------------------------------------------------------------------


def database_is_postgres() -> bool:
    return connection.vendor == "postgresql"


def broker_is_redis() -> bool:
    return settings.CELERY_BROKER_URL.startswith("redis")


def database_url_of_test_database() -> str:
    """Return a DATABASE_URL naming the database this test session uses (the test copy)."""
    data = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{data['NAME']}"
    if connection.vendor == "postgresql":
        user = data.get("USER") or "postgres"
        password = f":{data['PASSWORD']}" if data.get("PASSWORD") else ""
        host = data.get("HOST") or "127.0.0.1"
        port = data.get("PORT") or 5432
        return f"postgres://{user}{password}@{host}:{port}/{data['NAME']}"
    raise RuntimeError(f"No DATABASE_URL form for the {connection.vendor} backend")


# --- processes ---------------------------------------------------------------------------------


@dataclass
class Stack:
    """The service processes of one scenario, sharing the test database and a broker."""

    group: ProcessGroup
    env: dict[str, str]
    broker_url: str
    workers: dict[str, ServiceProcess] = field(default_factory=dict)
    killed: list[ServiceProcess] = field(default_factory=list)
    started: int = 0

    def start_worker(self, name: str, queues: str, *, gpu: bool = False) -> ServiceProcess:
        arguments = ["-m", "celery", "-A", "wearview", "worker", "-Q", queues]
        if gpu:
            arguments += ["-I", "wearview.engine.tasks"]
        arguments += [
            "--pool",
            "solo",
            "--prefetch-multiplier",
            "1",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
            "-n",
            f"{name}-{self.started}@%h",
        ]
        service = self.group.start_python(f"{name}-{self.started}", arguments)
        self.started += 1
        scanner = current_scanner()
        if scanner is not None:
            scanner.add_log_file(service.log_path)
        self.group.wait_for_log(service, "ready.", timeout=180 if gpu else 90)
        self.workers[name] = service
        return service

    def kill(self, name: str) -> None:
        """SIGKILL a worker's whole process group, as an out-of-memory kill or a crash does."""
        service = self.workers.pop(name)
        try:
            os.killpg(service.process.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        service.process.wait(timeout=10)
        # A killed process is expected to be dead; the group watches the live ones only.
        self.group.services.remove(service)
        self.killed.append(service)

    def start_web(self, port: int, workers: int = 2) -> ServiceProcess:
        service = self.group.start_python(
            "web",
            [
                "-m",
                "gunicorn",
                "wearview.wsgi",
                "--bind",
                f"127.0.0.1:{port}",
                "--workers",
                str(workers),
                "--log-level",
                "warning",
            ],
        )
        scanner = current_scanner()
        if scanner is not None:
            scanner.add_log_file(service.log_path)
        self.group.wait_for_http(service, f"http://127.0.0.1:{port}/healthz", timeout=60)
        return service


def stack_environment(tmp_path: Path, broker_url: str, **extra: str) -> dict[str, str]:
    """The environment of child processes: this session's database, secrets and storage."""
    env = {
        **os.environ,
        "DATABASE_URL": database_url_of_test_database(),
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": (
            broker_url if broker_url.startswith("redis") else f"db+sqlite:///{tmp_path}/results.db"
        ),
        "DJANGO_SECRET_KEY": settings.SECRET_KEY,
        "SHOPIFY_API_KEY": settings.SHOPIFY_API_KEY,
        "SHOPIFY_API_SECRET": settings.SHOPIFY_API_SECRET,
        "WEARVIEW_ENCRYPTION_KEY": settings.WEARVIEW_ENCRYPTION_KEY,
        "WEARVIEW_MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "WEARVIEW_VAR_DIR": str(tmp_path / "var"),
        "WEARVIEW_ENGINE_DEVICE": "cpu",
        "PYTHONUNBUFFERED": "1",
        "PYTHONPATH": str(ROOT),
        **extra,
    }
    return env


def scenario_broker_url(tmp_path: Path) -> str:
    """A broker of the scenario's own: a fresh SQLite file, or Redis database 13 when the
    session runs on Redis (flushed first)."""
    if broker_is_redis():
        import redis

        url = settings.CELERY_BROKER_URL.rsplit("/", 1)[0] + "/13"
        redis.Redis.from_url(url).flushdb()
        return url
    return f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"


@pytest.fixture
def stack(tmp_path, monkeypatch) -> Iterator[Stack]:
    """Process group of one scenario; every process is stopped when the test ends."""
    broker = scenario_broker_url(tmp_path)
    env = stack_environment(tmp_path, broker)
    group = ProcessGroup(root=ROOT, log_dir=tmp_path / "logs", env=env)
    from wearview.celery import app

    names = ("broker_url", "broker_read_url", "broker_write_url", "result_backend")
    previous = {name: app.conf[name] for name in names}
    app.conf.update(
        broker_url=broker,
        broker_read_url=broker,
        broker_write_url=broker,
        result_backend=env["CELERY_RESULT_BACKEND"],
    )
    _forget_connections(app)
    try:
        yield Stack(group=group, env=env, broker_url=broker)
    finally:
        group.stop_all()
        app.conf.update(previous)
        _forget_connections(app)


def _forget_connections(app) -> None:
    """Drop the app's broker pool and result backend, so the next call uses the new URLs."""
    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    # kombu keeps producer pools per broker URL; the next scenario on the same URL would get
    # the pool closed above.
    kombu_pools.reset()
    if hasattr(app._local, "backend"):
        del app._local.backend


def wait_until(check, timeout: float, interval: float = 0.5, what: str = "condition"):
    """Poll `check` until it returns a true value; fail the test after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} not reached within {timeout:.0f} s")
        time.sleep(interval)


__all__ = [
    "Stack",
    "broker_is_redis",
    "database_is_postgres",
    "free_port",
    "stack_environment",
    "wait_until",
]

"""A real worker process consumes tasks from each supported broker."""

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
REDIS_URL = os.environ.get("WEARVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/14")


def _start_worker(env: dict[str, str], log_path: Path) -> subprocess.Popen:
    log = log_path.open("w")
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "wearview",
            "worker",
            "-Q",
            "default",
            "--pool",
            "solo",
            "--without-heartbeat",
            "--without-gossip",
            "--without-mingle",
            "--loglevel",
            "INFO",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _stop_worker(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)


def _ping_through(broker_url: str, backend_url: str, tmp_path: Path, monkeypatch) -> dict:
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker_url,
        "CELERY_RESULT_BACKEND": backend_url,
        "WEARVIEW_VAR_DIR": str(tmp_path / "var"),
    }
    log_path = tmp_path / "worker.log"
    worker = _start_worker(env, log_path)
    # Celery reads these variables before its arguments; the client must use the test broker.
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    client = Celery("test-client", broker=broker_url, backend=backend_url)
    try:
        token = uuid.uuid4().hex
        result = client.send_task("wearview.tasks.ping_task", args=[token], queue="default")
        try:
            reply = result.get(timeout=90)
        except Exception as exc:
            pytest.fail(f"No reply from the worker ({exc!r}); its log:\n{log_path.read_text()}")
        assert reply["token"] == token
        return reply
    finally:
        client.close()
        _stop_worker(worker)


@pytest.mark.integration
def test_worker_consumes_from_sqlite_transport(tmp_path, monkeypatch):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    backend = f"db+sqlite:///{tmp_path / 'results.sqlite3'}"

    reply = _ping_through(broker, backend, tmp_path, monkeypatch)

    assert reply["pid"] != os.getpid()


@pytest.mark.integration
def test_worker_consumes_from_redis(tmp_path, monkeypatch):
    try:
        redis.Redis.from_url(REDIS_URL, socket_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip(f"Redis is not running at {REDIS_URL}; .ci/run starts it")
    redis.Redis.from_url(REDIS_URL).flushdb()

    reply = _ping_through(REDIS_URL, REDIS_URL, tmp_path, monkeypatch)

    assert reply["pid"] != os.getpid()

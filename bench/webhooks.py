"""Benchmark of the webhook endpoint under load on loopback: gunicorn serves the app, wrk sends
signed `products/update` deliveries, each with its own webhook and event id, for a fixed time.

    .venv/bin/python bench/webhooks.py --seconds 20 --runs 3 --connections 8 --workers 2

Every request goes through the full path: HMAC check over the raw body, shop-domain check, a
WebhookDelivery row, and a Celery task enqueued once the row is stored. The database is a new
SQLite file and the broker the embedded SQLite one unless `--database` and `--broker` name
others. With `--runs`, the headline figures are the worst run's. wrk must be installed
(Debian: `apt-get install wrk`). The result is printed as JSON; bench/SHOPIFY.md records it.
"""

import argparse
import base64
import hashlib
import hmac
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
API_SECRET = "wearview-bench-secret-6f1d0c2b9a8e7f65"
SHOP = "wearview-bench.myshopify.com"

# A products/update payload of a typical size (about 2 KB), with the escapes Shopify writes.
PAYLOAD = {
    "id": 1000001,
    "admin_graphql_api_id": "gid://shopify/Product/1000001",
    "title": "Linen shirt \u0026 belt",
    "body_html": "<p>Relaxed fit, 100 % linen.</p>",
    "vendor": "WearView Samples",
    "product_type": "Tops",
    "handle": "linen-shirt",
    "updated_at": "2026-12-04T10:00:00Z",
    "status": "active",
    "tags": "linen, summer",
    "variants": [
        {
            "id": 2000000 + n,
            "admin_graphql_api_id": f"gid://shopify/ProductVariant/{2000000 + n}",
            "title": size,
            "sku": f"LINEN-{size}",
            "price": "49.00",
            "position": n,
            "option1": size,
        }
        for n, size in enumerate(["XS", "S", "M", "L", "XL"], start=1)
    ],
    "media": [
        {
            "id": 3000000 + n,
            "admin_graphql_api_id": f"gid://shopify/MediaImage/{3000000 + n}",
            "position": n,
            "status": "READY",
            "media_content_type": "IMAGE",
            "preview_image": {"src": f"https://cdn.shopify.com/s/files/1/linen-{n}.jpg"},
        }
        for n in range(1, 5)
    ],
}

LUA = """
local counter = 0
local thread_id = 0
local threads = {}

function setup(thread)
  thread:set("thread_id", #threads)
  table.insert(threads, thread)
end

function request()
  counter = counter + 1
  local id = string.format("bench-%s-%d-%d", run_id, thread_id, counter)
  wrk.headers["X-Shopify-Webhook-Id"] = id
  wrk.headers["X-Shopify-Event-Id"] = id
  return wrk.format("POST", "/shopify/webhooks", nil, body)
end
"""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _wait_for(port: int, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError(f"gunicorn did not listen on 127.0.0.1:{port} within {timeout} s.")


def _script(workdir: Path, body: bytes, run_id: str) -> Path:
    signature = base64.b64encode(hmac.new(API_SECRET.encode(), body, hashlib.sha256).digest())
    headers = {
        "Content-Type": "application/json",
        "X-Shopify-Topic": "products/update",
        "X-Shopify-Hmac-Sha256": signature.decode(),
        "X-Shopify-Shop-Domain": SHOP,
        "X-Shopify-API-Version": "2026-10",
        "X-Shopify-Triggered-At": "2026-12-04T10:00:00Z",
    }
    lines = [f'run_id = "{run_id}"', f"body = {json.dumps(body.decode())}"]
    lines += [f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in headers.items()]
    path = workdir / "webhooks.lua"
    path.write_text("\n".join(lines) + LUA)
    return path


def _cpu_seconds(master_pid: int) -> float:
    """CPU time (user and system) of the gunicorn master and its workers so far."""
    ticks = os.sysconf("SC_CLK_TCK")
    pids = [master_pid]
    children = Path(f"/proc/{master_pid}/task/{master_pid}/children")
    if children.exists():
        pids += [int(pid) for pid in children.read_text().split()]
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / ticks


def _parse_wrk(output: str) -> dict:
    def seconds(value: str) -> float:
        number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value).groups()
        return float(number) * {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}[unit]

    percentiles = dict(re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE))
    requests = int(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "requests": requests,
        "requests_per_second": float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1)),
        "p50_ms": round(seconds(percentiles["50"]) * 1000, 2),
        "p90_ms": round(seconds(percentiles["90"]) * 1000, 2),
        "p99_ms": round(seconds(percentiles["99"]) * 1000, 2),
        "non_2xx": int(errors.group(1)) if errors else 0,
        "socket_errors": socket_errors.group(1) if socket_errors else "",
    }


def _delivery_count(python: str, env: dict) -> int:
    done = subprocess.run(
        [
            python,
            "-c",
            "import django; django.setup();"
            "from integrations.shopify.models import WebhookDelivery as W;"
            "print(W.objects.count())",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    return int(done.stdout.strip())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", default="/tmp/wearview-bench-webhooks")
    parser.add_argument("--seconds", type=int, default=20, help="Length of each load run.")
    parser.add_argument(
        "--runs", type=int, default=1, help="Load runs against the same server, one after another."
    )
    parser.add_argument("--connections", type=int, default=8, help="Open connections of wrk.")
    parser.add_argument("--threads", type=int, default=1, help="Threads of wrk.")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn worker processes.")
    parser.add_argument("--worker-threads", type=int, default=1, help="Threads per worker.")
    parser.add_argument("--broker", default=None, help="Celery broker URL (default: embedded).")
    parser.add_argument(
        "--database",
        default=None,
        help="Database URL (default: a new SQLite file in the work directory). The database "
        "must exist; migrations are applied to it.",
    )
    args = parser.parse_args()
    if args.runs < 1 or args.seconds < 1:
        parser.error(f"--runs ({args.runs}) and --seconds ({args.seconds}) must be at least 1.")

    workdir = Path(args.workdir)
    (workdir / "var").mkdir(parents=True, exist_ok=True)
    for name in ("bench.sqlite3", "bench.sqlite3-wal", "bench.sqlite3-shm", "var/broker.sqlite3"):
        (workdir / name).unlink(missing_ok=True)
    from cryptography.fernet import Fernet

    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="bench.webhook_settings",
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="wearview-bench-secret-key-not-for-production",
        DJANGO_ALLOWED_HOSTS="127.0.0.1,localhost",
        SHOPIFY_API_KEY="wearview-bench-app",
        SHOPIFY_API_SECRET=API_SECRET,
        WEARVIEW_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        WEARVIEW_VAR_DIR=str(workdir / "var"),
        DATABASE_URL=args.database or f"sqlite:///{workdir / 'bench.sqlite3'}",
        WEARVIEW_LOG_LEVEL="WARNING",
    )
    if args.broker:
        env["CELERY_BROKER_URL"] = args.broker
    python = sys.executable
    subprocess.run(
        [python, "manage.py", "migrate", "--verbosity", "0"], cwd=ROOT, env=env, check=True
    )
    deliveries_before = _delivery_count(python, env)

    port = _free_port()
    gunicorn = subprocess.Popen(
        [
            str(Path(python).parent / "gunicorn"),
            "wearview.wsgi",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(args.workers),
            "--threads",
            str(args.worker_threads),
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stderr=(workdir / "gunicorn.log").open("w"),
    )
    body = json.dumps(PAYLOAD, separators=(",", ":")).encode()
    runs = []
    try:
        _wait_for(port)
        # Warm-up: imports, the first broker connection and SQLite's file opening.
        warm_up = _script(workdir, body, run_id=f"{int(time.time())}-0")
        subprocess.run(
            ["wrk", "-t1", "-c2", "-d2s", "-s", str(warm_up), f"http://127.0.0.1:{port}"],
            capture_output=True,
            check=True,
        )
        for number in range(1, args.runs + 1):
            # Every run sends its own webhook ids, so none is skipped as a redelivery.
            script = _script(workdir, body, run_id=f"{int(time.time())}-{number}")
            cpu_before = _cpu_seconds(gunicorn.pid)
            output = subprocess.run(
                [
                    "wrk",
                    f"-t{args.threads}",
                    f"-c{args.connections}",
                    f"-d{args.seconds}s",
                    "--latency",
                    "-s",
                    str(script),
                    f"http://127.0.0.1:{port}",
                ],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            server_cpu = _cpu_seconds(gunicorn.pid) - cpu_before
            run = _parse_wrk(output)
            run["server_cpu_ms_per_request"] = round(server_cpu * 1000 / max(1, run["requests"]), 2)
            run["load_average_1m"] = round(os.getloadavg()[0], 2)
            runs.append(run)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
    # The headline figures are those of the worst run: the lowest rate, the highest latencies.
    cpu_ms = statistics.median(run["server_cpu_ms_per_request"] for run in runs)
    result = {
        "requests": sum(run["requests"] for run in runs),
        "requests_per_second": min(run["requests_per_second"] for run in runs),
        "requests_per_second_median": statistics.median(run["requests_per_second"] for run in runs),
        "p50_ms": max(run["p50_ms"] for run in runs),
        "p90_ms": max(run["p90_ms"] for run in runs),
        "p99_ms": max(run["p99_ms"] for run in runs),
        "non_2xx": sum(run["non_2xx"] for run in runs),
        "socket_errors": "; ".join(run["socket_errors"] for run in runs if run["socket_errors"]),
        "server_cpu_ms_per_request": cpu_ms,
        # The rate the server's own CPU time would allow with every core to itself. It is an
        # estimate, because it leaves out wrk, the broker and other processes on the machine.
        "cpu_bound_estimate_rps": round((os.cpu_count() or 1) * 1000 / cpu_ms, 0),
    }
    result.update(
        {
            "benchmark": "webhook endpoint, signed products/update, unique ids",
            "body_bytes": len(body),
            "seconds": args.seconds,
            "runs": runs,
            "connections": args.connections,
            "gunicorn_workers": args.workers,
            "gunicorn_threads": args.worker_threads,
            "broker": (args.broker or "sqla+sqlite").split(":", 1)[0],
            "database": env["DATABASE_URL"].split(":", 1)[0],
            "deliveries_recorded": _delivery_count(python, env) - deliveries_before,
            "cpu_count": os.cpu_count(),
        }
    )
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()

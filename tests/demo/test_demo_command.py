"""The demo command runs the main job end to end at a small size, in its own processes.

With --webhook-flow it then acts as a merchant on the dev store (create, add an on-model
photo, delete) and the web server and real worker processes must react to the webhooks.
"""

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import dj_database_url
import psycopg
import pytest

ROOT = Path(__file__).resolve().parents[2]
JOB_HANDLES_SQL = (
    "SELECT p.handle, j.state FROM studio_generationjob j "
    "JOIN catalog_product p ON p.id = j.product_id "
    "JOIN catalog_shop s ON s.id = j.shop_id WHERE s.domain = 'wearview-demo.myshopify.com'"
)


def _job_states(var_dir: Path) -> dict[str, str]:
    """Read the demo's jobs from the database the demo used (not the test database)."""
    url = os.environ.get("DATABASE_URL", f"sqlite:///{var_dir / 'wearview.sqlite3'}")
    config = dj_database_url.parse(url)
    if config["ENGINE"].endswith("sqlite3"):
        with sqlite3.connect(config["NAME"]) as connection:
            return dict(connection.execute(JOB_HANDLES_SQL).fetchall())
    with psycopg.connect(
        dbname=config["NAME"],
        user=config["USER"],
        host=config["HOST"],
        port=config["PORT"] or 5432,
        password=config["PASSWORD"] or None,
    ) as connection:
        return dict(connection.execute(JOB_HANDLES_SQL).fetchall())


@pytest.mark.integration
def test_demo_small_catalog_end_to_end(tmp_path):
    env = {**os.environ, "WEARVIEW_VAR_DIR": str(tmp_path / "var"), "PYTHONUNBUFFERED": "1"}

    result = subprocess.run(
        [
            sys.executable,
            "manage.py",
            "demo",
            "--auto-approve",
            "--limit",
            "3",
            "--webhook-flow",
            "--timeout",
            "800",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )

    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    assert summary["products"] == 3
    assert summary["needs_on_model"] == 2
    assert summary["jobs"] == 2
    assert summary["candidates"] >= 2
    assert summary["approved"] == 2
    assert summary["published"] == 2
    assert summary["failed"] == 0
    assert summary["classified"] == summary["images"] >= 4
    assert summary["webhook_flow"] == {
        "own_publish_new_jobs": 0,
        "created_job_state": "in_review",
        "on_model_update_job_state": "cancelled",
        "deleted_job_state": "cancelled",
    }
    jobs = _job_states(tmp_path / "var")
    # The raglan tee already has an on-model photo in the sample catalog.
    assert "raglan-heather-tee" not in jobs
    assert jobs == {
        "slogan-crew-tee": "published",
        "breton-stripe-top": "published",
        "webhook-gingham-shirt": "cancelled",
        "webhook-bomber-jacket": "cancelled",
    }

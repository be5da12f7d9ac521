"""The `devstore` management command as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from integrations.shopify.devstore import write_sample_catalog

REPOSITORY = Path(__file__).resolve().parents[2]


@pytest.mark.integration
def test_devstore_command_serves_seeded_shop(tmp_path):
    csv_path = write_sample_catalog(tmp_path, products=4)
    command = [
        sys.executable,
        "manage.py",
        "devstore",
        "--port",
        "0",
        "--csv",
        str(csv_path),
        "--images",
        str(tmp_path / "images"),
        "--plan",
        "advanced",
        "--install",
    ]
    process = subprocess.Popen(
        command,
        cwd=REPOSITORY,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        lines = {}
        for line in process.stdout:
            key, _, value = line.partition(": ")
            lines[key.strip()] = value.strip()
            if "Offline access token" in lines:
                break
        response = requests.post(
            lines["Admin API"],
            json={"query": "{ products(first: 10) { nodes { handle } } }"},
            headers={"X-Shopify-Access-Token": lines["Offline access token"]},
            timeout=10,
        )
        assert response.status_code == 200
        body = response.json()
        assert len(body["data"]["products"]["nodes"]) == 4
        assert body["extensions"]["cost"]["throttleStatus"]["maximumAvailable"] == 4000.0
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)
    assert process.returncode == 0

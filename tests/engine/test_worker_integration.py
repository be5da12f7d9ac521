"""A real GPU worker process (on the CPU, tiny pipeline) runs a generation request."""

import io
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from celery import Celery
from PIL import Image

from tests.engine.conftest import make_garment_scene
from wearview.imaging.strength import strength_map

ROOT = Path(__file__).resolve().parents[2]


def _write_inputs(media: Path) -> dict:
    source, mask = make_garment_scene(72, 64)
    folder = media / "inputs" / "21"
    folder.mkdir(parents=True)
    Image.fromarray(source).save(folder / "source.png")
    Image.fromarray(mask.astype(np.uint8) * 255).save(folder / "mask.png")
    buffer = io.BytesIO()
    np.save(buffer, strength_map(mask, preset="restyle"))
    (folder / "strength.npy").write_bytes(buffer.getvalue())
    return {
        "job_id": 21,
        "round": 0,
        "shop_domain": "dev-store.myshopify.com",
        "source_key": "inputs/21/source.png",
        "mask_key": "inputs/21/mask.png",
        "strength_key": "inputs/21/strength.npy",
        "prompt": "a person wearing a striped shirt",
        "negative_prompt": "",
        "preset": "restyle",
        "params": {
            "seeds": [1, 2],
            "strength_levels": [0.5],
            "steps": 6,
            "guidance_scale": 5.0,
            "width": 64,
            "height": 72,
        },
    }


@pytest.mark.integration
def test_gpu_worker_generates_candidates(tmp_path, monkeypatch):
    broker = f"sqla+sqlite:///{tmp_path / 'broker.sqlite3'}"
    backend = f"db+sqlite:///{tmp_path / 'results.sqlite3'}"
    media = tmp_path / "media"
    payload = _write_inputs(media)
    env = {
        **os.environ,
        "CELERY_BROKER_URL": broker,
        "CELERY_RESULT_BACKEND": backend,
        "WEARVIEW_VAR_DIR": str(tmp_path / "var"),
        "WEARVIEW_MEDIA_ROOT": str(media),
        "WEARVIEW_ENGINE_DEVICE": "cpu",
    }
    log_path = tmp_path / "worker.log"
    with log_path.open("w") as log:
        worker = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "wearview",
                "worker",
                "-Q",
                "gpu",
                "-I",
                "wearview.engine.tasks",
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
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    monkeypatch.delenv("CELERY_RESULT_BACKEND", raising=False)
    client = Celery("test-client", broker=broker, backend=backend)
    try:
        result = client.send_task(
            "wearview.engine.tasks.generate_candidates_task", args=[payload], queue="gpu"
        )
        try:
            produced = result.get(timeout=240)
        except Exception as exc:
            pytest.fail(
                f"No result from the GPU worker ({exc!r}); its log:\n{log_path.read_text()}"
            )
    finally:
        client.close()
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait(timeout=10)

    assert produced == 1
    files = sorted(p.name for p in (media / "jobs" / "21" / "r0").iterdir())
    assert files == ["seed1-s050.png", "seed2-s050.png"]
    log = log_path.read_text()
    assert "Warmed up tiny on cpu" in log

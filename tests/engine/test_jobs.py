import io

import numpy as np
import pytest
import torch
from django.core.files.base import ContentFile
from django.core.files.storage import FileSystemStorage
from PIL import Image

from tests.engine.conftest import make_garment_scene
from wearview.engine import jobs as jobs_module
from wearview.engine.errors import StorageError
from wearview.engine.jobs import ProgressReporter, run_generation
from wearview.engine.payloads import (
    RECORD_CANDIDATES_TASK,
    RECORD_FAILURE_TASK,
    RECORD_PROGRESS_TASK,
    parse_generation_request,
)
from wearview.imaging.strength import strength_map


class Sender:
    """Records the tasks the worker sends, in order."""

    def __init__(self):
        self.sent = []

    def __call__(self, name, args, queue):
        self.sent.append((name, args[0], queue))

    def named(self, name):
        return [payload for task, payload, _ in self.sent if task == name]


def _png(array):
    buffer = io.BytesIO()
    Image.fromarray(array).save(buffer, format="PNG")
    return buffer.getvalue()


def _store_job(storage, job_id, *, height=72, width=64, seed=0, strength_format="npy"):
    source, mask = make_garment_scene(height, width, seed=seed)
    strength = strength_map(mask, preset="restyle")
    storage.save(f"inputs/{job_id}/source.png", ContentFile(_png(source)))
    storage.save(f"inputs/{job_id}/mask.png", ContentFile(_png(mask.astype(np.uint8) * 255)))
    if strength_format == "npy":
        buffer = io.BytesIO()
        np.save(buffer, strength)
        strength_key = f"inputs/{job_id}/strength.npy"
        storage.save(strength_key, ContentFile(buffer.getvalue()))
    else:
        sixteen = np.round(strength * 65535).astype(np.uint16)
        strength_key = f"inputs/{job_id}/strength.png"
        storage.save(strength_key, ContentFile(_png(sixteen)))
    return {
        "job_id": job_id,
        "round": 0,
        "shop_domain": "dev-store.myshopify.com",
        "source_key": f"inputs/{job_id}/source.png",
        "mask_key": f"inputs/{job_id}/mask.png",
        "strength_key": strength_key,
        "prompt": "a person wearing a striped shirt",
        "negative_prompt": "blurry",
        "preset": "restyle",
        "params": {
            "seeds": [1, 2],
            "strength_levels": [0.5],
            "steps": 8,
            "guidance_scale": 5.0,
            "width": width,
            "height": height,
        },
    }


@pytest.fixture
def storage(tmp_path):
    return FileSystemStorage(location=tmp_path)


def _candidate_files(storage, job_id):
    return sorted(storage.listdir(f"jobs/{job_id}/r0")[1])


def test_run_generation_stores_and_reports(engine, storage):
    payload = _store_job(storage, 5, strength_format="png")
    sender = Sender()

    results = run_generation([payload], send_task=sender, storage=storage, engine=engine)

    (message,) = sender.named(RECORD_CANDIDATES_TASK)
    assert results == [message]
    assert message["job_id"] == 5
    assert message["model"] == "tiny"
    assert message["device"] == "cpu"
    keys = sorted(c["key"] for c in message["candidates"])
    assert keys == ["jobs/5/r0/seed1-s050.png", "jobs/5/r0/seed2-s050.png"]
    assert [c["rank"] for c in message["candidates"]] == [1, 2]
    for candidate in message["candidates"]:
        with storage.open(candidate["key"]) as handle:
            assert Image.open(handle).size == (64, 72)
        assert candidate["background_strength"] == pytest.approx(0.5, abs=0.01)
        assert set(candidate) == {
            "key",
            "seed",
            "garment_strength",
            "background_strength",
            "scores",
            "passed",
            "reason",
            "score",
            "rank",
        }
    assert message["timings"]["steps_run"] == 4
    assert all(queue == "default" for _, _, queue in sender.sent)
    progress = sender.named(RECORD_PROGRESS_TASK)
    assert progress[0] == {"job_id": 5, "round": 0, "step": 1, "total": 4}


def test_run_generation_redelivery_overwrites_same_keys(engine, storage):
    payload = _store_job(storage, 6)
    first = run_generation([payload], send_task=Sender(), storage=storage, engine=engine)
    files_before = _candidate_files(storage, 6)

    second = run_generation([payload], send_task=Sender(), storage=storage, engine=engine)

    assert (
        _candidate_files(storage, 6)
        == files_before
        == [
            "seed1-s050.png",
            "seed2-s050.png",
        ]
    )
    assert first[0]["candidates"] == second[0]["candidates"]


def test_run_generation_bad_payload_fails_only_that_job(engine, storage):
    good = _store_job(storage, 7)
    bad = dict(good, job_id=8, params=dict(good["params"], steps=0))
    sender = Sender()

    run_generation([bad, good], send_task=sender, storage=storage, engine=engine)

    (failure,) = sender.named(RECORD_FAILURE_TASK)
    assert failure["job_id"] == 8
    assert "params.steps" in failure["reason"]
    assert [m["job_id"] for m in sender.named(RECORD_CANDIDATES_TASK)] == [7]


def test_run_generation_missing_input_names_key(engine, storage):
    payload = _store_job(storage, 9)
    storage.delete(payload["mask_key"])
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage, engine=engine)

    (failure,) = sender.named(RECORD_FAILURE_TASK)
    assert failure == {
        "job_id": 9,
        "round": 0,
        "reason": "mask_key 'inputs/9/mask.png' was not found in storage",
    }


def test_run_generation_storage_error_retries_unless_final(engine, storage, monkeypatch):
    payload = _store_job(storage, 10)

    def broken_open(name, mode="rb"):
        raise ConnectionResetError("connection reset by peer")

    monkeypatch.setattr(storage, "open", broken_open)
    with pytest.raises(StorageError, match="connection reset"):
        run_generation(
            [payload], send_task=Sender(), storage=storage, engine=engine, final_attempt=False
        )

    sender = Sender()
    run_generation([payload], send_task=sender, storage=storage, engine=engine)
    assert "connection reset" in sender.named(RECORD_FAILURE_TASK)[0]["reason"]


def test_run_generation_batches_compatible_jobs(engine, storage, monkeypatch):
    calls = []
    original = engine.pipeline.generate_differential

    def spy(**kwargs):
        calls.append(len(kwargs["row_sources"]))
        return original(**kwargs)

    monkeypatch.setattr(engine.pipeline, "generate_differential", spy)
    payloads = [_store_job(storage, 11, seed=1), _store_job(storage, 12, seed=2)]

    results = run_generation(payloads, send_task=Sender(), storage=storage, engine=engine)

    assert calls == [4]
    assert [r["job_id"] for r in results] == [11, 12]


def test_run_generation_oom_shrinks_batch_then_canvas(engine, storage, monkeypatch):
    calls = []
    original = engine.pipeline.generate_differential

    def small_memory(**kwargs):
        rows = len(kwargs["row_sources"])
        height = kwargs["sources"].shape[-2]
        calls.append((rows, height))
        if rows > 1 or height > 56:
            raise torch.cuda.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
        return original(**kwargs)

    monkeypatch.setattr(engine.pipeline, "generate_differential", small_memory)
    payload = _store_job(storage, 13)
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage, engine=engine)

    # Batch 2 then 1 at full canvas, then the same again at three quarters of it.
    assert calls[:4] == [(2, 72), (1, 72), (2, 56), (1, 56)]
    (message,) = sender.named(RECORD_CANDIDATES_TASK)
    assert len(message["candidates"]) == 2
    with storage.open(message["candidates"][0]["key"]) as handle:
        assert Image.open(handle).size == (64, 72)


def test_run_generation_out_of_memory_fails_with_reason(engine, storage, monkeypatch):
    def no_memory(**kwargs):
        raise torch.cuda.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(engine.pipeline, "generate_differential", no_memory)
    payload = _store_job(storage, 14)
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage, engine=engine)

    (failure,) = sender.named(RECORD_FAILURE_TASK)
    assert failure["job_id"] == 14
    assert failure["reason"].startswith("generation ran out of GPU memory even at batch size 1")
    assert sender.named(RECORD_CANDIDATES_TASK) == []


def test_run_generation_zero_strength_map_fails(engine, storage):
    payload = _store_job(storage, 15)
    buffer = io.BytesIO()
    np.save(buffer, np.zeros((72, 64), dtype=np.float32))
    storage.delete(payload["strength_key"])
    storage.save(payload["strength_key"], ContentFile(buffer.getvalue()))
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage, engine=engine)

    assert "0 everywhere" in sender.named(RECORD_FAILURE_TASK)[0]["reason"]


def test_progress_reporter_throttles_to_interval():
    now = [0.0]
    sender = Sender()
    request = parse_generation_request(_payload_only())
    reporter = ProgressReporter(request, sender, interval_s=2.0, clock=lambda: now[0])

    for step in range(1, 11):
        reporter(step, 10)
        now[0] += 0.5

    steps = [payload["step"] for payload in sender.named(RECORD_PROGRESS_TASK)]
    assert steps == [1, 5, 9]


def test_progress_reporter_survives_broker_error():
    def failing(name, args, queue):
        raise ConnectionError("broker down")

    reporter = ProgressReporter(parse_generation_request(_payload_only()), failing)

    reporter(1, 10)

    assert reporter.last_sent is not None


def _payload_only():
    return {
        "job_id": 1,
        "round": 0,
        "shop_domain": "dev-store.myshopify.com",
        "source_key": "a.png",
        "mask_key": "b.png",
        "strength_key": "c.npy",
        "prompt": "p",
        "negative_prompt": "",
        "preset": "restyle",
        "params": {
            "seeds": [1],
            "strength_levels": "auto",
            "steps": 4,
            "guidance_scale": 5.0,
            "width": 64,
            "height": 64,
        },
    }


def test_write_candidate_replaces_existing(storage):
    image = np.zeros((4, 4, 3), dtype=np.uint8)
    jobs_module.write_candidate(storage, "jobs/1/r0/seed1-s050.png", image)

    key = jobs_module.write_candidate(storage, "jobs/1/r0/seed1-s050.png", image + 9)

    assert key == "jobs/1/r0/seed1-s050.png"
    assert storage.listdir("jobs/1/r0")[1] == ["seed1-s050.png"]
    with storage.open(key) as handle:
        assert np.asarray(Image.open(handle))[0, 0].tolist() == [9, 9, 9]


def test_run_generation_model_missing_fails_jobs(storage, monkeypatch):
    from wearview.engine.errors import ModelNotFoundError

    def missing(config=None):
        raise ModelNotFoundError("model 'acme/missing' could not be loaded")

    monkeypatch.setattr(jobs_module, "get_engine", missing)
    payload = _store_job(storage, 16)
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage)

    (failure,) = sender.named(RECORD_FAILURE_TASK)
    assert failure["reason"] == "model 'acme/missing' could not be loaded"


def test_run_generation_unexpected_error_fails_jobs(engine, storage, monkeypatch):
    def broken(**kwargs):
        raise RuntimeError("expected all tensors to be on the same device")

    monkeypatch.setattr(engine.pipeline, "generate_differential", broken)
    payload = _store_job(storage, 17)
    sender = Sender()

    run_generation([payload], send_task=sender, storage=storage, engine=engine)

    (failure,) = sender.named(RECORD_FAILURE_TASK)
    assert failure["reason"] == (
        "generation failed: RuntimeError: expected all tensors to be on the same device"
    )

import pytest
from celery.exceptions import SoftTimeLimitExceeded

from wearview.celery import app
from wearview.engine import tasks
from wearview.engine.payloads import RECORD_FAILURE_TASK

TASK_NAME = "wearview.engine.tasks.generate_candidates_task"


def test_generate_candidates_task_policy():
    task = app.tasks[TASK_NAME]

    assert app.amqp.router.route({}, TASK_NAME)["queue"].name == "gpu"
    assert task.acks_late is True
    assert task.reject_on_worker_lost is True
    assert task.soft_time_limit == tasks.SOFT_TIME_LIMIT_S
    assert task.time_limit > task.soft_time_limit


def test_generate_candidates_task_wraps_single_payload(monkeypatch):
    seen = []

    def fake_run(payloads, *, send_task, final_attempt):
        seen.append((payloads, final_attempt))
        return [{"job_id": 1}]

    monkeypatch.setattr(tasks, "run_generation", fake_run)

    result = tasks.generate_candidates_task.apply(args=[{"job_id": 1}]).get()

    assert result == 1
    assert seen == [([{"job_id": 1}], False)]


def test_generate_candidates_task_time_limit_fails_jobs(monkeypatch):
    sent = []

    def too_slow(payloads, *, send_task, final_attempt):
        raise SoftTimeLimitExceeded()

    monkeypatch.setattr(tasks, "run_generation", too_slow)
    monkeypatch.setattr(app, "send_task", lambda name, args, queue: sent.append((name, args)))

    result = tasks.generate_candidates_task.apply(
        args=[[{"job_id": 3, "round": 2}, {"job_id": 4, "round": 0}]]
    ).get()

    assert result == 0
    assert [(name, args[0]["job_id"], args[0]["round"]) for name, args in sent] == [
        (RECORD_FAILURE_TASK, 3, 2),
        (RECORD_FAILURE_TASK, 4, 0),
    ]
    assert "timed out" in sent[0][1][0]["reason"]


@pytest.mark.parametrize(
    ("consume_from", "expected"),
    [(None, True), ({"gpu": "queue"}, True), ({"default": "queue"}, False)],
)
def test_warm_up_engine_only_on_gpu_workers(monkeypatch, consume_from, expected):
    warmed = []
    monkeypatch.setattr(app.amqp.queues, "_consume_from", consume_from)
    monkeypatch.delenv("WEARVIEW_ENGINE_WARM_UP", raising=False)
    monkeypatch.setattr("wearview.engine.loading.get_engine", lambda: "engine")
    monkeypatch.setattr("wearview.engine.warmup.warm_up", lambda engine: warmed.append(engine))

    tasks.warm_up_engine()

    assert warmed == (["engine"] if expected else [])


def test_warm_up_engine_disabled_by_env(monkeypatch):
    warmed = []
    monkeypatch.setenv("WEARVIEW_ENGINE_WARM_UP", "0")
    monkeypatch.setattr("wearview.engine.warmup.warm_up", lambda engine: warmed.append(engine))

    tasks.warm_up_engine()

    assert warmed == []


def test_warm_up_runs_a_generation(engine):
    from wearview.engine.warmup import warm_up

    assert warm_up(engine) > 0.0

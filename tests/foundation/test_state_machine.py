import threading

import pytest
from django.db import close_old_connections, connection

from tests.factories import make_image, make_product, make_shop
from wearview.studio.errors import IllegalTransition, JobStateConflict
from wearview.studio.models import GenerationJob, JobState, JobTransition
from wearview.studio.services import ALLOWED_TRANSITIONS, job_create, job_transition

ALL_STATES = [state.value for state in JobState]
ALLOWED_PAIRS = [(a, b) for a, nexts in ALLOWED_TRANSITIONS.items() for b in sorted(nexts)]
REJECTED_PAIRS = [(a, b) for a in ALL_STATES for b in ALL_STATES if b not in ALLOWED_TRANSITIONS[a]]


def _job_in_state(state: str) -> GenerationJob:
    shop = make_shop()
    product = make_product(shop)
    job, _ = job_create(
        product=product, source_image=make_image(product), variants=[], preset="restyle"
    )
    GenerationJob.objects.filter(pk=job.pk).update(state=state)
    return job


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), ALLOWED_PAIRS)
def test_transition_allowed(from_state, to_state):
    job = _job_in_state(from_state)

    moved = job_transition(job_id=job.pk, to_state=to_state, reason="test", actor="tester")

    assert moved.state == to_state
    assert GenerationJob.objects.get(pk=job.pk).state == to_state
    last = JobTransition.objects.filter(job=job).last()
    assert (last.from_state, last.to_state, last.actor) == (from_state, to_state, "tester")


@pytest.mark.django_db
@pytest.mark.parametrize(("from_state", "to_state"), REJECTED_PAIRS)
def test_transition_rejected(from_state, to_state):
    job = _job_in_state(from_state)

    with pytest.raises(IllegalTransition) as excinfo:
        job_transition(job_id=job.pk, to_state=to_state)

    message = str(excinfo.value)
    assert f"Job {job.pk}" in message
    assert repr(from_state) in message
    assert repr(to_state) in message
    assert GenerationJob.objects.get(pk=job.pk).state == from_state


def test_transition_table_covers_every_state():
    assert set(ALLOWED_TRANSITIONS) == set(ALL_STATES)
    assert len(ALLOWED_PAIRS) + len(REJECTED_PAIRS) == len(ALL_STATES) ** 2


@pytest.mark.django_db
def test_transition_unknown_state_rejected():
    job = _job_in_state(JobState.QUEUED)

    with pytest.raises(IllegalTransition, match="Unknown job state 'done'"):
        job_transition(job_id=job.pk, to_state="done")


@pytest.mark.django_db
def test_transition_failed_stores_reason():
    job = _job_in_state(JobState.GENERATING)

    job_transition(job_id=job.pk, to_state=JobState.FAILED, reason="mask empty")

    assert GenerationJob.objects.get(pk=job.pk).failure_reason == "mask empty"


@pytest.mark.django_db
def test_transition_from_states_conflict():
    job = _job_in_state(JobState.PREPARING)

    with pytest.raises(JobStateConflict, match="is 'preparing'"):
        job_transition(job_id=job.pk, to_state=JobState.FAILED, from_states=[JobState.QUEUED])


@pytest.mark.django_db
def test_transition_logged_with_shop_and_job(caplog):
    job = _job_in_state(JobState.QUEUED)
    caplog.set_level("INFO", logger="wearview.studio.services")

    job_transition(job_id=job.pk, to_state=JobState.PREPARING, actor="worker")

    assert f"Job {job.pk} of shop {job.shop.domain} moved queued -> preparing by worker" in (
        caplog.text
    )


@pytest.mark.django_db
def test_job_create_one_open_job_per_product():
    shop = make_shop()
    product = make_product(shop)
    image = make_image(product)

    first, created_first = job_create(
        product=product, source_image=image, variants=[], preset="restyle"
    )
    second, created_second = job_create(
        product=product, source_image=image, variants=[], preset="retouch"
    )

    assert created_first is True
    assert created_second is False
    assert second.pk == first.pk
    assert GenerationJob.objects.filter(product=product).count() == 1


@pytest.mark.django_db(transaction=True)
def test_transition_concurrent_moves_apply_once():
    """Two threads, each with its own database connection, race to start the same job."""
    job = _job_in_state(JobState.QUEUED)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []
    lock = threading.Lock()

    def worker() -> None:
        close_old_connections()
        try:
            barrier.wait(timeout=10)
            job_transition(
                job_id=job.pk, to_state=JobState.PREPARING, from_states=[JobState.QUEUED]
            )
            result = "applied"
        except JobStateConflict:
            result = "conflict"
        finally:
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == ["applied", "conflict"]
    transitions = JobTransition.objects.filter(job=job, to_state=JobState.PREPARING)
    assert transitions.count() == 1
    assert GenerationJob.objects.get(pk=job.pk).state == JobState.PREPARING

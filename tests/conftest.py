import pytest

# Fails the session when a secret reaches the logs of any test (see the module).
from tests.reliability.secret_scan import secret_log_scan  # noqa: F401


@pytest.fixture(autouse=True)
def celery_join_flag_cleared():
    """Clear Celery's process-wide "running inside a task" flag before each test.

    An eager task sets the flag while it runs and then restores the old value. The flag is a
    module global, not per thread, so eager tasks that overlap in two threads (a live server
    and the dev store's webhook sender, say) can leave it set. Every later `result.get()` in
    the session would then raise "Never call result.get() within a task!".
    """
    from celery._state import _set_task_join_will_block

    _set_task_join_will_block(False)
    yield


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop()

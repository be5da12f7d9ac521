import pytest

# Fails the session when a secret reaches the logs of any test (see the module).
from tests.reliability.secret_scan import secret_log_scan  # noqa: F401


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop()

import pytest


@pytest.fixture
def shop(db):
    from tests.factories import make_shop

    return make_shop()

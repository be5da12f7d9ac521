from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.shopify.tasks import resync_shops_task
from tests.factories import make_shop

pytestmark = pytest.mark.django_db


def test_resync_starts_only_due_installed_shops(monkeypatch):
    started = []
    monkeypatch.setattr(
        "integrations.shopify.tasks.sync_shop_task.delay", lambda shop_id: started.append(shop_id)
    )
    now = timezone.now()
    due = make_shop(installed_at=now, last_synced_at=now - timedelta(days=1))
    never = make_shop(installed_at=now)
    make_shop(installed_at=now, last_synced_at=now)
    make_shop(installed_at=now, uninstalled_at=now, last_synced_at=now - timedelta(days=1))
    make_shop()

    assert resync_shops_task() == 2

    assert sorted(started) == sorted([due.pk, never.pk])

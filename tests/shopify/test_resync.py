from datetime import timedelta

import pytest
from django.utils import timezone

from integrations.shopify.models import SyncRun, SyncStatus
from integrations.shopify.sync import MAX_SYNC_RESUMES, sync_runs_resume_stalled
from integrations.shopify.tasks import resync_shops_task
from tests.factories import make_shop
from tests.shopify.conftest import SHOP, install_shop
from wearview.catalog.models import Product, Shop

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


def _running_run(shop, *, idle: timedelta, mode: str = "pages", **fields) -> SyncRun:
    then = timezone.now() - idle
    return SyncRun.objects.create(
        shop=shop, mode=mode, started_at=then, progressed_at=then, **fields
    )


@pytest.fixture
def resent(monkeypatch):
    calls: list[tuple] = []
    monkeypatch.setattr(
        "integrations.shopify.tasks.sync_shop_task.delay",
        lambda *args: calls.append(("sync_shop_task", *args)),
    )
    monkeypatch.setattr(
        "integrations.shopify.tasks.finish_bulk_sync_task.delay",
        lambda *args: calls.append(("finish_bulk_sync_task", *args)),
    )
    return calls


def test_resync_stalled_page_run_resumed_once_per_limit(resent):
    shop = make_shop(installed_at=timezone.now(), last_synced_at=timezone.now())
    run = _running_run(shop, idle=timedelta(hours=1), cursor="cursor-after-page-3")

    counts = sync_runs_resume_stalled()

    run.refresh_from_db()
    assert counts == {"resumed": 1, "failed": 0}
    assert resent == [("sync_shop_task", shop.pk, "pages")]
    assert run.status == SyncStatus.RUNNING
    assert run.resumes == 1
    assert run.cursor == "cursor-after-page-3"
    assert run.progressed_at > timezone.now() - timedelta(minutes=1)
    # The next sweep waits a full limit again.
    assert sync_runs_resume_stalled() == {"resumed": 0, "failed": 0}


def test_resync_stalled_bulk_run_checks_its_operation_again(resent):
    shop = make_shop(installed_at=timezone.now(), last_synced_at=timezone.now())
    run = _running_run(
        shop, idle=timedelta(hours=1), mode="bulk", bulk_operation_id="gid://shopify/Op/1"
    )

    assert sync_runs_resume_stalled() == {"resumed": 1, "failed": 0}
    assert resent == [("finish_bulk_sync_task", run.pk)]


def test_resync_run_with_recent_progress_left_alone(resent):
    shop = make_shop(installed_at=timezone.now(), last_synced_at=timezone.now())
    _running_run(shop, idle=timedelta(minutes=2))

    assert sync_runs_resume_stalled() == {"resumed": 0, "failed": 0}
    assert resent == []


def test_resync_stalled_run_failed_after_max_resumes(resent):
    shop = make_shop(installed_at=timezone.now(), last_synced_at=timezone.now() - timedelta(days=1))
    run = _running_run(shop, idle=timedelta(hours=1), resumes=MAX_SYNC_RESUMES)

    started = resync_shops_task()

    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED
    assert f"after {MAX_SYNC_RESUMES} resumes" in run.error_message
    assert f"sync {run.pk}" in run.error_message
    # With the stalled run out of the way, the shop's periodic sync starts again.
    assert started == 1
    assert resent == [("sync_shop_task", shop.pk)]


def test_resync_stalled_run_of_uninstalled_shop_failed(resent):
    now = timezone.now()
    shop = make_shop(installed_at=now, uninstalled_at=now)
    run = _running_run(shop, idle=timedelta(hours=1))

    assert sync_runs_resume_stalled() == {"resumed": 0, "failed": 1}
    run.refresh_from_db()
    assert run.status == SyncStatus.FAILED
    assert resent == []


def test_resync_lost_sync_task_resumed_to_end(devstore, sample_catalog, eager_celery):
    """The run's first task was lost right after it created the run: the sweep sends it
    again, and the whole catalog arrives."""
    shop = install_shop(devstore, catalog=sample_catalog)
    Shop.objects.filter(pk=shop.pk).update(last_synced_at=timezone.now())
    run = _running_run(shop, idle=timedelta(hours=1))

    counts = sync_runs_resume_stalled()

    run.refresh_from_db()
    assert counts == {"resumed": 1, "failed": 0}
    assert run.status == SyncStatus.SUCCEEDED
    assert run.products_seen == len(devstore.shop(SHOP).products) == 30
    assert Product.objects.filter(shop=shop, deleted_at__isnull=True).count() == 30

"""Fixtures of the Shopify tests: a dev store on 127.0.0.1 seeded with generated products,
and a shop installed in it through the app's own token exchange."""

import pytest
from django.utils import timezone

from integrations.shopify import client as client_module
from integrations.shopify.devstore import DevStore, write_sample_catalog
from wearview.celery import app as celery_app

API_KEY = "wearview-test-app"
API_SECRET = "wearview-test-secret-4c7e1a90b3d2f5e8a1c4"
SHOP = "wearview-test.myshopify.com"


@pytest.fixture
def shopify_settings(settings, tmp_path):
    settings.SHOPIFY_API_KEY = API_KEY
    settings.SHOPIFY_API_SECRET = API_SECRET
    settings.SHOPIFY_HTTP_TIMEOUT = 2.0
    settings.ROOT_URLCONF = "tests.shopify.urls"
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path / "media"), "base_url": "/media/"},
        },
    }
    client_module.forget_buckets()
    return settings


@pytest.fixture
def eager_celery():
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture(scope="session")
def sample_catalog(tmp_path_factory):
    """A generated catalog of 30 products with 2 variants and 3 images each."""
    folder = tmp_path_factory.mktemp("catalog")
    csv_path = write_sample_catalog(
        folder, products=30, variants_per_product=2, images_per_product=3
    )
    return csv_path, folder / "images"


def start_devstore(shopify_settings, *, app_url: str | None = None, **options) -> DevStore:
    store = DevStore(API_KEY, API_SECRET, app_url=app_url, media_processing_seconds=0.05, **options)
    base = store.start()
    shopify_settings.SHOPIFY_ADMIN_BASE_URL = base
    return store


@pytest.fixture
def devstore(shopify_settings):
    store = start_devstore(shopify_settings)
    yield store
    store.stop()


def install_shop(store: DevStore, domain: str = SHOP, *, plan: str = "standard", catalog=None):
    """Add `domain` to the dev store (seeded from `catalog`) and install the app on it through
    the app's token exchange; returns the catalog Shop row."""
    from integrations.shopify.auth import shop_install_with_session_token

    if catalog is not None:
        csv_path, images = catalog
        store.add_shop(domain, plan=plan, csv=csv_path, images=images)
    else:
        store.add_shop(domain, plan=plan)
    return shop_install_with_session_token(session_token=store.mint_session_token(domain))


@pytest.fixture
def installed_shop(db, devstore, sample_catalog):
    return install_shop(devstore, catalog=sample_catalog)


def now():
    return timezone.now()

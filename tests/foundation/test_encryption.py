import pytest
from django.db import connection

from tests.factories import make_shop
from wearview.catalog.models import Shop

TOKEN = "shpat_0123456789abcdef0123456789abcdef"
REFRESH = "shprt_fedcba9876543210fedcba9876543210"


def _raw_columns(shop_id: int) -> tuple[str, str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT access_token, refresh_token FROM catalog_shop WHERE id = %s", [shop_id]
        )
        return cursor.fetchone()


@pytest.mark.django_db
def test_shop_tokens_encrypted_at_rest():
    shop = make_shop(access_token=TOKEN, refresh_token=REFRESH)

    raw_access, raw_refresh = _raw_columns(shop.pk)

    assert TOKEN not in raw_access
    assert REFRESH not in raw_refresh
    assert raw_access.startswith("fernet:")
    assert raw_refresh.startswith("fernet:")


@pytest.mark.django_db
def test_shop_tokens_read_back_decrypted():
    shop = make_shop(access_token=TOKEN, refresh_token=REFRESH)

    loaded = Shop.objects.get(pk=shop.pk)

    assert loaded.access_token == TOKEN
    assert loaded.refresh_token == REFRESH


@pytest.mark.django_db
def test_shop_token_old_key_still_decrypts(settings):
    from cryptography.fernet import Fernet

    old_key = settings.WEARVIEW_ENCRYPTION_KEY
    shop = make_shop(access_token=TOKEN)
    settings.WEARVIEW_ENCRYPTION_KEY = f"{Fernet.generate_key().decode()},{old_key}"

    assert Shop.objects.get(pk=shop.pk).access_token == TOKEN


@pytest.mark.django_db
def test_shop_token_unknown_key_names_variable(settings):
    from cryptography.fernet import Fernet
    from django.core.exceptions import ImproperlyConfigured

    shop = make_shop(access_token=TOKEN)
    settings.WEARVIEW_ENCRYPTION_KEY = Fernet.generate_key().decode()

    with pytest.raises(ImproperlyConfigured, match="WEARVIEW_ENCRYPTION_KEY"):
        Shop.objects.get(pk=shop.pk)


@pytest.mark.django_db
def test_shop_empty_token_stays_empty():
    shop = make_shop()

    raw_access, _ = _raw_columns(shop.pk)

    assert raw_access == ""
    assert Shop.objects.get(pk=shop.pk).access_token == ""

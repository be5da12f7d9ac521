"""Encryption of secrets at rest (shop access and refresh tokens)."""

from functools import lru_cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Every stored value starts with this marker, so a raw column read (or a test) can tell an
# encrypted value from a plain one at a glance.
PREFIX = "fernet:"


@lru_cache(maxsize=4)
def _fernet_for(keys: str) -> MultiFernet:
    fernets = []
    for position, key in enumerate(k.strip() for k in keys.split(",") if k.strip()):
        try:
            fernets.append(Fernet(key.encode()))
        except ValueError:
            raise ImproperlyConfigured(
                f"WEARVIEW_ENCRYPTION_KEY entry {position + 1} is not a Fernet key; generate one "
                f'with: python -c "from cryptography.fernet import Fernet; '
                f'print(Fernet.generate_key().decode())"'
            ) from None
    if not fernets:
        raise ImproperlyConfigured("WEARVIEW_ENCRYPTION_KEY is empty; set at least one Fernet key.")
    return MultiFernet(fernets)


def encrypt(plain: str) -> str:
    return PREFIX + _fernet_for(settings.WEARVIEW_ENCRYPTION_KEY).encrypt(plain.encode()).decode()


def decrypt(stored: str) -> str:
    if not stored.startswith(PREFIX):
        raise ValueError("Stored secret has no encryption marker; it was not written by WearView.")
    try:
        token = stored[len(PREFIX) :].encode()
        return _fernet_for(settings.WEARVIEW_ENCRYPTION_KEY).decrypt(token).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with WEARVIEW_ENCRYPTION_KEY; the key was "
            "changed without keeping the old one. List the old key after the new one, "
            "separated by a comma."
        ) from None


class EncryptedTextField(models.TextField):
    """A text field stored encrypted with the service's Fernet keys; empty stays empty."""

    def from_db_value(self, value, expression, connection):
        if not value:
            return value
        return decrypt(value)

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        if not value:
            return value
        return encrypt(value)

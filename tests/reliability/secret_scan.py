"""A pytest fixture that fails the test session when a secret shows up in a log.

Every log record of every test is kept (message and traceback), together with the log files
of the processes that the reliability scenarios start. At the end of the session they are
searched for every secret the session knew: the Django secret key, the Shopify app secret,
the encryption keys, and each access, refresh and session token that a test minted or the app
stored. A finding names the secret's kind and the logger, never the secret itself.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

# Shorter values (an API key such as "wearview-dev-app", a shop domain) are names, not secrets.
MIN_SECRET_LENGTH = 16
SECRET_SETTINGS = ("SECRET_KEY", "SHOPIFY_API_SECRET", "WEARVIEW_ENCRYPTION_KEY")


class SecretScanner(logging.Handler):
    """Keep log records and known secrets; `findings()` reports each secret seen in a log."""

    def __init__(self) -> None:
        super().__init__(level=logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(message)s"))
        self._lock_records = threading.Lock()
        self.records: list[tuple[str, str]] = []
        self.secrets: dict[str, str] = {}
        self.log_files: set[Path] = set()

    def emit(self, record: logging.LogRecord) -> None:
        try:
            text = self.format(record)
        except Exception:  # a record with bad arguments is still scanned by its template
            text = f"{record.name} {record.msg}"
        with self._lock_records:
            self.records.append((record.name, text))

    def add_secret(self, value: object, kind: str) -> None:
        """Remember `value` as a secret of `kind`; values too short to be secrets are ignored."""
        if not isinstance(value, str):
            return
        for part in value.split(","):
            part = part.strip()
            if len(part) >= MIN_SECRET_LENGTH:
                self.secrets.setdefault(part, kind)

    def add_log_file(self, path: Path) -> None:
        self.log_files.add(Path(path))

    def findings(self) -> list[str]:
        """Return one line per (secret kind, log source) where a secret appears."""
        found: set[str] = set()
        with self._lock_records:
            records = list(self.records)
        sources = [(name, text) for name, text in records]
        for path in sorted(self.log_files):
            if path.exists():
                sources.append((f"log file {path.name}", path.read_text(errors="replace")))
        for secret, kind in self.secrets.items():
            for name, text in sources:
                if secret in text:
                    found.add(f"{kind} appears in {name}")
        return sorted(found)


_scanner: SecretScanner | None = None


def current_scanner() -> SecretScanner | None:
    """Return the session's scanner, for fixtures that register process log files."""
    return _scanner


def _remember_settings(scanner: SecretScanner) -> None:
    from django.conf import settings

    for name in SECRET_SETTINGS:
        scanner.add_secret(getattr(settings, name, None), name)


def _connect_signals(scanner: SecretScanner) -> list:
    from django.core.signals import setting_changed
    from django.db.models.signals import post_save

    from wearview.catalog.models import Shop

    def on_setting(setting: str, value: object, **kwargs: object) -> None:
        if setting in SECRET_SETTINGS:
            scanner.add_secret(value, setting)

    def on_shop_saved(instance: Shop, **kwargs: object) -> None:
        scanner.add_secret(instance.access_token, "access token")
        scanner.add_secret(instance.refresh_token, "refresh token")

    setting_changed.connect(on_setting, weak=False)
    post_save.connect(on_shop_saved, sender=Shop, weak=False)
    return [(setting_changed, on_setting), (post_save, on_shop_saved)]


def _wrap_dev_store(scanner: SecretScanner, monkeypatch: pytest.MonkeyPatch) -> None:
    from integrations.shopify.devstore import DevStore

    mint = DevStore.mint_session_token
    install = DevStore.install

    def mint_session_token(self, *args, **kwargs):
        token = mint(self, *args, **kwargs)
        scanner.add_secret(token, "session token")
        return token

    def install_and_remember(self, *args, **kwargs):
        grant = install(self, *args, **kwargs)
        scanner.add_secret(grant.get("access_token"), "access token")
        scanner.add_secret(grant.get("refresh_token"), "refresh token")
        return grant

    monkeypatch.setattr(DevStore, "mint_session_token", mint_session_token)
    monkeypatch.setattr(DevStore, "install", install_and_remember)


@pytest.fixture(scope="session", autouse=True)
def secret_log_scan() -> Iterator[SecretScanner]:
    """Collect the whole session's logs; fail the session if any known secret is in them."""
    global _scanner
    scanner = SecretScanner()
    _scanner = scanner
    root = logging.getLogger()
    root.addHandler(scanner)
    patcher = pytest.MonkeyPatch()
    _remember_settings(scanner)
    connections = _connect_signals(scanner)
    _wrap_dev_store(scanner, patcher)
    try:
        yield scanner
    finally:
        root.removeHandler(scanner)
        patcher.undo()
        for signal, receiver in connections:
            signal.disconnect(receiver)
        _remember_settings(scanner)
        _scanner = None
    findings = scanner.findings()
    if findings:
        pytest.fail(
            "Secrets were written to the logs of this test session:\n  " + "\n  ".join(findings),
            pytrace=False,
        )

"""The log scan that fails the session when a secret reaches a log."""

import logging

import pytest
from django.conf import settings

from tests.reliability.secret_scan import SecretScanner, current_scanner

pytestmark = pytest.mark.reliability

TOKEN = "shpat_scanner_test_token_0123456789abcdef"


def _scanner_with_logger() -> tuple[SecretScanner, logging.Logger]:
    scanner = SecretScanner()
    log = logging.getLogger("tests.reliability.scan_probe")
    log.addHandler(scanner)
    log.propagate = False
    return scanner, log


def test_secret_scan_finds_token_in_record():
    scanner, log = _scanner_with_logger()
    try:
        scanner.add_secret(TOKEN, "access token")
        log.warning("Request failed with token %s", TOKEN)
    finally:
        log.removeHandler(scanner)

    assert scanner.findings() == ["access token appears in tests.reliability.scan_probe"]


def test_secret_scan_finds_token_in_traceback():
    scanner, log = _scanner_with_logger()
    try:
        scanner.add_secret(TOKEN, "refresh token")
        try:
            raise ValueError(f"bad grant {TOKEN}")
        except ValueError:
            log.exception("Refresh failed")
    finally:
        log.removeHandler(scanner)

    assert scanner.findings() == ["refresh token appears in tests.reliability.scan_probe"]


def test_secret_scan_finds_token_in_process_log(tmp_path):
    scanner = SecretScanner()
    scanner.add_secret(TOKEN, "access token")
    worker_log = tmp_path / "worker-0.log"
    worker_log.write_text(f"INFO calling Shopify with {TOKEN}\n")
    scanner.add_log_file(worker_log)

    assert scanner.findings() == ["access token appears in log file worker-0.log"]


def test_secret_scan_clean_logs_pass():
    scanner, log = _scanner_with_logger()
    try:
        scanner.add_secret(TOKEN, "access token")
        scanner.add_secret("short", "api key")
        log.info("Shop short.myshopify.com synced")
    finally:
        log.removeHandler(scanner)

    assert scanner.findings() == []
    assert "short" not in scanner.secrets


def test_secret_scan_session_knows_app_secrets():
    scanner = current_scanner()

    assert scanner is not None
    assert settings.SHOPIFY_API_SECRET in scanner.secrets
    assert settings.SECRET_KEY in scanner.secrets

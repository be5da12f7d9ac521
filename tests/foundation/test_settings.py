"""Start-up checks of the settings, run in fresh interpreters."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "DJANGO_SECRET_KEY": "x" * 50,
    "SHOPIFY_API_KEY": "test-key",
    "SHOPIFY_API_SECRET": "test-secret",
    "WEARVIEW_ENCRYPTION_KEY": Fernet.generate_key().decode(),
}


def _start_django(env_overrides: dict[str, str], tmp_path: Path) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    env.update({"WEARVIEW_VAR_DIR": str(tmp_path / "var"), **env_overrides})
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize("missing", sorted(SECRETS))
def test_settings_production_missing_secret_names_variable(missing, tmp_path):
    env = {"DJANGO_DEBUG": "false", **{k: v for k, v in SECRETS.items() if k != missing}}

    result = _start_django(env, tmp_path)

    assert result.returncode != 0
    assert f"Environment variable {missing} is not set" in result.stderr
    assert "started" not in result.stdout


def test_settings_production_with_all_secrets_starts(tmp_path):
    result = _start_django({"DJANGO_DEBUG": "false", **SECRETS}, tmp_path)

    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_settings_development_generates_secrets_once(tmp_path):
    first = _start_django({"DJANGO_DEBUG": "true"}, tmp_path)
    stored = (tmp_path / "var" / "dev-secrets.json").read_text()
    second = _start_django({"DJANGO_DEBUG": "true"}, tmp_path)

    assert first.returncode == 0, first.stderr
    assert second.returncode == 0, second.stderr
    assert (tmp_path / "var" / "dev-secrets.json").read_text() == stored
    assert "WEARVIEW_ENCRYPTION_KEY" in stored


def test_settings_bad_boolean_names_value(tmp_path):
    result = _start_django({"DJANGO_DEBUG": "maybe"}, tmp_path)

    assert result.returncode != 0
    assert "DJANGO_DEBUG='maybe' is not a boolean" in result.stderr


def test_settings_redis_limit_order_enforced(tmp_path):
    # Start-up only reads the URL and never connects to it.
    result = _start_django(
        {
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
            "WEARVIEW_GPU_TIME_LIMIT": "600",
            "WEARVIEW_GENERATING_LIMIT": "700",
        },
        tmp_path,
    )

    assert result.returncode != 0
    assert "WEARVIEW_BROKER_VISIBILITY_TIMEOUT (900)" in result.stderr
    assert "WEARVIEW_GENERATING_LIMIT (700)" in result.stderr


def test_settings_redis_default_limits_ordered(tmp_path):
    script = (
        "import django; django.setup(); from django.conf import settings as s;"
        "print(s.WEARVIEW_GPU_TIME_LIMIT, s.CELERY_BROKER_TRANSPORT_OPTIONS['visibility_timeout'],"
        " s.WEARVIEW_GENERATING_LIMIT)"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("WEARVIEW_")}
    env.update(
        {
            "WEARVIEW_VAR_DIR": str(tmp_path / "var"),
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
        }
    )
    result = subprocess.run(
        [sys.executable, "-c", script],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    gpu_limit, visibility, generating_limit = map(int, result.stdout.split())
    assert visibility > gpu_limit
    assert generating_limit > visibility

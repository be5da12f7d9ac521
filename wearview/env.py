"""Typed readers for settings that come from environment variables."""

import fcntl
import json
import os
import secrets
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

TRUE_VALUES = {"1", "true", "yes", "on"}
FALSE_VALUES = {"0", "false", "no", "off", ""}


def get_str(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def get_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None:
        return default
    value = raw.strip().lower()
    if value in TRUE_VALUES:
        return True
    if value in FALSE_VALUES:
        return False
    raise ImproperlyConfigured(
        f"Environment variable {name}={raw!r} is not a boolean; use one of 1, 0, true, false."
    )


def get_int(name: str, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is not an integer; set a whole number."
        ) from None


def get_float(name: str, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(
            f"Environment variable {name}={raw!r} is not a number; set a decimal number."
        ) from None


def get_secret(name: str, *, debug: bool, var_dir: Path, generate) -> str:
    """Return the secret from the environment, or a development secret kept under `var_dir`.

    In production (`debug` off) a missing secret stops start-up with the variable's name, so a
    deployment never runs on an unconfigured key. In development a generated value is
    written to `var_dir/dev-secrets.json` once and reused, so tokens encrypted in one run can be
    read in the next.
    """
    value = os.environ.get(name, "")
    if value:
        return value
    if not debug:
        raise ImproperlyConfigured(
            f"Environment variable {name} is not set. It is required when DJANGO_DEBUG is off; "
            f"set it in the environment of every web and worker process."
        )
    var_dir.mkdir(parents=True, exist_ok=True)
    path = var_dir / "dev-secrets.json"
    # The web server and the workers start together; the lock makes them agree on one value.
    with open(var_dir / "dev-secrets.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        stored: dict[str, str] = {}
        if path.exists():
            stored = json.loads(path.read_text())
        if name not in stored:
            stored[name] = generate()
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(stored, indent=2))
            tmp.chmod(0o600)
            tmp.replace(path)
    return stored[name]


def generate_token() -> str:
    return secrets.token_urlsafe(48)

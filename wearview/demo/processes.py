"""Start, watch and stop the service processes that the demo runs on this machine."""

import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

logger = logging.getLogger(__name__)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that is free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class ProcessFailed(RuntimeError):
    pass


@dataclass
class ServiceProcess:
    name: str
    command: list[str]
    log_path: Path
    process: subprocess.Popen | None = None

    def log_tail(self, lines: int = 30) -> str:
        if not self.log_path.exists():
            return "(no output)"
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class ProcessGroup:
    """Child processes that share one environment; `stop_all` ends every one of them."""

    root: Path
    log_dir: Path
    env: dict[str, str]
    services: list[ServiceProcess] = field(default_factory=list)

    def start(self, name: str, arguments: list[str]) -> ServiceProcess:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        service = ServiceProcess(
            name=name, command=arguments, log_path=self.log_dir / f"{name}.log"
        )
        log = service.log_path.open("w")
        service.process = subprocess.Popen(
            arguments,
            cwd=self.root,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
        )
        log.close()
        self.services.append(service)
        logger.info("Started %s (pid %s): %s", name, service.process.pid, " ".join(arguments))
        return service

    def start_python(self, name: str, arguments: list[str]) -> ServiceProcess:
        return self.start(name, [sys.executable, *arguments])

    def check_alive(self) -> None:
        for service in self.services:
            if service.process is not None and service.process.poll() is not None:
                raise ProcessFailed(
                    f"{service.name} exited with code {service.process.returncode}; "
                    f"its log {service.log_path} ends with:\n{service.log_tail()}"
                )

    def wait_for_log(self, service: ServiceProcess, marker: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.check_alive()
            if service.log_path.exists() and marker in service.log_path.read_text(errors="replace"):
                return
            time.sleep(0.3)
        raise ProcessFailed(
            f"{service.name} did not report {marker!r} within {timeout:.0f} s; its log "
            f"{service.log_path} ends with:\n{service.log_tail()}"
        )

    def wait_for_http(self, service: ServiceProcess, url: str, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        last_error = ""
        while time.monotonic() < deadline:
            self.check_alive()
            try:
                if httpx.get(url, timeout=2.0).status_code < 500:
                    return
            except httpx.HTTPError as exc:
                last_error = str(exc)
            time.sleep(0.3)
        raise ProcessFailed(
            f"{service.name} did not respond at {url} within {timeout:.0f} s ({last_error}); "
            f"its log {service.log_path} ends with:\n{service.log_tail()}"
        )

    def stop_all(self, timeout: float = 15.0) -> None:
        for service in reversed(self.services):
            process = service.process
            if process is None or process.poll() is not None:
                continue
            try:
                os.killpg(process.pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
        deadline = time.monotonic() + timeout
        for service in reversed(self.services):
            process = service.process
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                logger.warning("%s did not stop within %.0f s; killing it", service.name, timeout)
                try:
                    os.killpg(process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                process.wait(timeout=5)
            logger.info("Stopped %s (pid %s)", service.name, process.pid)

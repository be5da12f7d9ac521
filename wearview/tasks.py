"""Tasks that belong to the service as a whole rather than one app."""

import os
import socket

from celery import shared_task


@shared_task(name="wearview.tasks.ping_task")
def ping_task(token: str) -> dict:
    """Echo the token with the worker's process id, so a caller can prove a worker ran it."""
    return {"token": token, "pid": os.getpid(), "hostname": socket.gethostname()}

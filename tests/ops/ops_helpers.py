"""Helpers for the metrics, logs and tracing tests (importable: conftest modules are not)."""

import socket

METRICS_TOKEN = "metrics-token-for-the-tests-0123456789abcdef"  # noqa: S105
BEARER = {"Authorization": f"Bearer {METRICS_TOKEN}"}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

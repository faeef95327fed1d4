"""The Prometheus endpoint of the bot and the workers, off unless IMAGINE_METRICS_PORT is
set. What each process counts is defined beside it: `bot/metrics.py`, `worker/metrics.py`.
"""

from __future__ import annotations

import logging
from wsgiref.simple_server import WSGIServer

from prometheus_client import start_http_server

from core.settings import CommonSettings

log = logging.getLogger(__name__)


def serve_metrics(settings: CommonSettings) -> WSGIServer | None:
    """Serves /metrics from a daemon thread when a port is set; None when metrics are off.
    A port that cannot be used stops the process with one sentence, like any bad setting."""
    port, host = settings.metrics_port, settings.metrics_host
    if port is None:
        return None
    try:
        server, _ = start_http_server(port, host)
    except OSError as error:
        raise SystemExit(
            f"Configuration error: IMAGINE_METRICS_PORT is invalid: {host}:{port} cannot be"
            f" used ({error.strerror})."
        ) from None
    log.info("Metrics at http://%s:%d/metrics", host, port)
    return server

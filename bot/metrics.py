"""Prometheus exposition (placeholder for development of the web server; the ``ops``
branch owns the real module with Kindred's metrics, and keeps this signature)."""

from __future__ import annotations

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest

REGISTRY = CollectorRegistry()


def exposition() -> tuple[bytes, str]:
    """The registry in the text format, and its content type: ``/metrics``'s body."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST

"""Prometheus metrics (`GET /metrics`): executions by status and mode, their duration, webhook requests by
status, queue depth. Each runtime has its own registry, so tests can build several."""

from __future__ import annotations

from typing import Any


class Metrics:
    """Prometheus metrics of one service (its own registry, so tests can build several)."""

    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

        self.registry = CollectorRegistry()
        self.executions = Counter("flowbox_executions", "Finished executions by status and mode",
                                  ["status", "mode"], registry=self.registry)
        self.duration = Histogram("flowbox_execution_duration_seconds", "Execution wall time",
                                  buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
                                           300), registry=self.registry)
        self.webhooks = Counter("flowbox_webhook_requests", "Webhook requests by HTTP status", ["status"],
                                registry=self.registry)
        self.queue_depth = Gauge("flowbox_queue_depth", "Executions waiting in the queue", registry=self.registry)
        self._webhook_children: dict[int, Any] = {}
        self._execution_children: dict[tuple[str, str], Any] = {}

    def webhook(self, status: int) -> None:
        """Count one webhook request (children cached: this runs on every call)."""
        child = self._webhook_children.get(status)
        if child is None:
            child = self._webhook_children[status] = self.webhooks.labels(status=str(status))
        child.inc()

    def execution(self, status: str, mode: str, seconds: float | None = None) -> None:
        key = (status, mode)
        child = self._execution_children.get(key)
        if child is None:
            child = self._execution_children[key] = self.executions.labels(status=status, mode=mode)
        child.inc()
        if seconds is not None:
            self.duration.observe(seconds)

    def render(self, queue_depth: int) -> bytes:
        from prometheus_client import generate_latest

        self.queue_depth.set(queue_depth)
        return generate_latest(self.registry)

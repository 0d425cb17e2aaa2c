"""Per-service request counts, errors and latency percentiles, kept in memory."""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field

LATENCY_WINDOW = 1024  # the latest latencies per service that percentiles are computed over


@dataclass(frozen=True)
class ServiceMetrics:
    """One service's figures since the integration started (latencies over the recent window)."""

    requests: int
    errors: int
    retries: int
    deduplicated: int
    errors_by_type: dict[str, int]
    latency_ms_p50: float | None
    latency_ms_p95: float | None
    latency_ms_p99: float | None


@dataclass
class _Series:
    requests: int = 0
    errors: int = 0
    retries: int = 0
    deduplicated: int = 0
    errors_by_type: Counter[str] = field(default_factory=Counter)
    latencies: deque[float] = field(default_factory=lambda: deque(maxlen=LATENCY_WINDOW))


def percentile(samples: list[float], fraction: float) -> float | None:
    """The nearest-rank percentile of ``samples`` (``fraction`` in 0..1), None when empty."""
    if not samples:
        return None
    ordered = sorted(samples)
    rank = max(0, min(len(ordered) - 1, round(fraction * len(ordered) + 0.5) - 1))
    return ordered[rank]


class Metrics:
    """Collects what the transport reports, per service."""

    def __init__(self) -> None:
        self._series: dict[str, _Series] = {}

    def request(self, service: str, latency_seconds: float, *, error_type: str | None) -> None:
        """One attempt ended, with an answer or an error of ``error_type``."""
        series = self._series.setdefault(service, _Series())
        series.requests += 1
        series.latencies.append(latency_seconds * 1000)
        if error_type is not None:
            series.errors += 1
            series.errors_by_type[error_type] += 1

    def retry(self, service: str) -> None:
        """An attempt is being retried."""
        self._series.setdefault(service, _Series()).retries += 1

    def deduplicated(self, service: str) -> None:
        """A call was answered by an identical request already in flight."""
        self._series.setdefault(service, _Series()).deduplicated += 1

    def snapshot(self) -> dict[str, ServiceMetrics]:
        """Every service's figures now."""
        result: dict[str, ServiceMetrics] = {}
        for name, series in sorted(self._series.items()):
            samples = list(series.latencies)
            result[name] = ServiceMetrics(
                requests=series.requests,
                errors=series.errors,
                retries=series.retries,
                deduplicated=series.deduplicated,
                errors_by_type=dict(series.errors_by_type),
                latency_ms_p50=percentile(samples, 0.50),
                latency_ms_p95=percentile(samples, 0.95),
                latency_ms_p99=percentile(samples, 0.99),
            )
        return result

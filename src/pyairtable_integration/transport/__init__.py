"""HTTP transport: pooled connections, retry policy, circuit breakers, de-duplication."""

from ._breaker import BreakerSnapshot, BreakerState, CircuitBreaker
from ._client import Authenticator, Transport
from ._policy import RetryPolicy, backoff_delay, may_retry_method, parse_retry_after, retry_wait
from ._request import Params

__all__ = [
    "Authenticator",
    "BreakerSnapshot",
    "BreakerState",
    "CircuitBreaker",
    "Params",
    "RetryPolicy",
    "Transport",
    "backoff_delay",
    "may_retry_method",
    "parse_retry_after",
    "retry_wait",
]

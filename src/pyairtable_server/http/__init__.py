"""Pure ASGI middleware: request ids, security headers, body limits, rate limits."""

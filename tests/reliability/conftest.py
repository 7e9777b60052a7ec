"""The reliability suite runs on the integration stack (moto in-process, real sinks)."""
from tests.integration.conftest import Stack, bearer, http, sink, sms, stack  # noqa: F401 - fixtures and helpers

"""The integration tests use the engine fixtures of tests/conftest.py and tests/processes.py."""

from tests.processes import CeleryProcess, EngineProcess, app_env, free_port, wait_for_http

__all__ = ["CeleryProcess", "EngineProcess", "app_env", "free_port", "wait_for_http"]

"""Deployment tests: the Dockerfile, cluster.yaml (offline) and a real multi-node cluster."""

from __future__ import annotations

import pytest


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "slow: starts real Ray nodes; about a minute (deselect with -m 'not slow')")

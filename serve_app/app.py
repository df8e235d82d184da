"""The ``dance`` application: DanceAnalyzer (ingress) composed with PoseWorker.

``serve_config.yaml`` points at ``build_app`` and passes its ``args``.
"""

from __future__ import annotations

from typing import Any

from ray.serve import Application

from serve_app.ingress import DanceAnalyzer
from serve_app.settings import AppArgs
from serve_app.worker import PoseWorker


def build_app(raw_args: dict[str, Any]) -> Application:
    """Bind the deployments with ``raw_args`` (serve_config.yaml ``args``), validated here."""
    return DanceAnalyzer.bind(PoseWorker.bind(), AppArgs.model_validate(raw_args))  # type: ignore[attr-defined]


app = build_app({})

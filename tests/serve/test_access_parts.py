"""The access-control parts on their own, without Ray: token buckets, key files, routes."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

import pytest
import yaml

from serve_app.access import AccessSettings, is_analysis_request
from serve_app.api_keys import ApiKeyFileError, ApiKeys, key_id, read_keys
from serve_app.app import build_app
from serve_app.bearer_auth import CLIENT_KEY
from serve_app.rate_limit import TokenBuckets, client_id
from serve_app.settings import AppArgs


class Clock:
    """A settable time source, so refill arithmetic is checked exactly."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_bucket_allows_a_burst_then_the_rate() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_minute=30, burst=3, clock=clock)  # a token every 2 s
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(2.0)  # empty: a whole token away
    clock.now += 1.5
    assert buckets.take("a") == pytest.approx(0.5)  # 0.75 of a token refilled, none spent
    clock.now += 0.5
    assert buckets.take("a") == 0
    assert buckets.take("b") == 0  # every client has its own bucket
    clock.now += 3600
    assert [buckets.take("a") for _ in range(4)][-1] > 0  # refills to the burst, no further


def test_least_recently_seen_client_is_forgotten_first() -> None:
    clock = Clock()
    buckets = TokenBuckets(rate_per_minute=1, burst=1, clock=clock, max_clients=2)
    assert buckets.take("a") == 0 and buckets.take("b") == 0
    assert buckets.take("a") > 0  # "a" is now the most recent
    assert buckets.take("c") == 0  # evicts "b"
    assert buckets.take("a") > 0  # still remembered, still empty
    assert buckets.take("b") == 0  # forgotten: a fresh bucket


def test_client_is_the_key_when_authenticated_else_the_address() -> None:
    assert client_id({"client": ("203.0.113.7", 5123)}) == "ip:203.0.113.7"
    assert client_id({"client": ("203.0.113.7", 5123), CLIENT_KEY: "abc"}) == "key:abc"
    assert client_id({"client": None}) == "ip:unknown"


def test_analysis_routes_are_everything_under_analyze_and_compare() -> None:
    def scope(path: str, root: str = "") -> dict:
        return {"type": "http", "path": path, "root_path": root}

    assert is_analysis_request(scope("/analyze"))
    assert is_analysis_request(scope("/analyze/stream"))
    assert is_analysis_request(scope("/api/analyze", root="/api"))
    assert is_analysis_request(scope("/compare"))
    for path in ("/healthz", "/poses", "/docs", "/openapi.json", "/", "/x/analyze", "/x/compare"):
        assert not is_analysis_request(scope(path)), path


def write_keys(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines))
    path.chmod(0o600)
    return path


def test_key_file_with_comments_and_blank_lines(tmp_path: Path) -> None:
    one, two = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    path = write_keys(tmp_path / "keys", "# production", one, "", f"  {two}  ")
    assert read_keys(path) == [one.encode(), two.encode()]
    keys = ApiKeys(path)
    assert keys.match(one.encode()) == key_id(one.encode())
    assert keys.match(two.encode()) == key_id(two.encode()) != key_id(one.encode())
    assert keys.match(one[:-1].encode()) is None and keys.match(b"") is None


@pytest.mark.parametrize("lines, problem", [
    ((), "holds no key"),
    (("# only a comment",), "holds no key"),
    (("short-key",), "at least 16"),
    (("a key with spaces in it",), "without spaces"),
    (("ключ-" + "x" * 20,), "ASCII"),
])
def test_unusable_key_files_are_refused(tmp_path: Path, lines: tuple[str, ...], problem: str) -> None:
    with pytest.raises(ApiKeyFileError, match=problem):
        read_keys(write_keys(tmp_path / "keys", *lines))


def test_missing_key_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ApiKeyFileError, match="cannot read"):
        ApiKeys(tmp_path / "absent")


def test_keys_rotate_and_a_broken_file_keeps_the_old_ones(tmp_path: Path) -> None:
    old, new = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    path = write_keys(tmp_path / "keys", old)
    keys = ApiKeys(path)
    replacement = write_keys(tmp_path / "keys.new", new)
    os.replace(replacement, path)  # how a secret is swapped atomically
    assert keys.match(new.encode()) and keys.match(old.encode()) is None
    write_keys(path, "# emptied by mistake")
    assert keys.match(new.encode())  # never open because the file broke
    path.unlink()
    assert keys.match(new.encode())


def settings(args: dict) -> AppArgs:
    """What build_app passes to DanceAnalyzer (bound as ``DanceAnalyzer.bind(worker, args)``)."""
    return build_app(args)._bound_deployment.init_args[1]


def test_app_args_validate_access_settings() -> None:
    with pytest.raises(ValueError, match="absolute"):
        AppArgs.model_validate({"api_key_file": "keys.txt"})
    with pytest.raises(ValueError, match="not an origin"):
        AppArgs.model_validate({"cors_allowed_origins": ["https://app.example.com/"]})
    with pytest.raises(ValueError):
        AppArgs.model_validate({"max_concurrent_uploads": 0})
    args = {"api_key_file": "/run/secrets/k", "rate_limit_per_minute": 6, "rate_limit_burst": 2,
            "max_concurrent_uploads": 3, "cors_allowed_origins": ["https://app.example.com", "http://localhost:3000"]}
    access = settings(args)
    assert access.api_key_file == "/run/secrets/k" and access.max_concurrent_uploads == 3
    assert access.cors_allowed_origins == ("https://app.example.com", "http://localhost:3000")
    assert AccessSettings(**settings({}).model_dump(include=set(AccessSettings.model_fields))) == AccessSettings()
    assert settings({}).max_concurrent_uploads == 32 and settings({}).api_key_file is None  # all off by default


def test_serve_config_leaves_room_above_the_upload_limit() -> None:
    # Requests past the ingress's max_ongoing_requests queue in Serve and never reach
    # the concurrency limit, so it must sit below that, with room for /healthz.
    config = yaml.safe_load((Path(__file__).resolve().parents[2] / "serve_config.yaml").read_text())
    [app] = config["applications"]
    [ingress] = [d for d in app["deployments"] if d["name"] == "DanceAnalyzer"]
    assert app["args"]["max_concurrent_uploads"] + 4 <= ingress["max_ongoing_requests"]
    assert ingress["backpressure_config"]["retry_after_s"] > 0  # Serve's own 503 says when, too

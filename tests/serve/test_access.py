"""API keys, rate limit, concurrency limit and CORS on a real cluster with all of them on.

One cluster for the module, configured as a user would: the keys in a 0600 file whose
path is ``args.api_key_file`` in serve_config.yaml.
"""

from __future__ import annotations

import copy
import http.client
import json
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from testbed.cluster import ServeCluster, local_cluster, wait_for
from tests.serve.conftest import TEST_ARGS

ORIGIN = "https://app.example.com"
MAX_UPLOADS = 2
BURST = 5
PER_MINUTE = 60  # a token a second


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Keys by purpose, each its own rate-limit bucket."""
    return {name: secrets.token_urlsafe(32) for name in ("main", "rate", "other", "page")}


@pytest.fixture(scope="module")
def key_file(tmp_path_factory: pytest.TempPathFactory, keys: dict[str, str]) -> Path:
    path = tmp_path_factory.mktemp("secrets") / "api_keys"
    path.write_text("# dance API keys, one a line\n" + "\n".join(keys.values()) + "\n")
    path.chmod(0o600)
    return path


@pytest.fixture(scope="module")
def access_cluster(key_file: Path) -> Iterator[ServeCluster]:
    args = dict(TEST_ARGS, worker_replicas=1, api_key_file=str(key_file), rate_limit_per_minute=PER_MINUTE,
                rate_limit_burst=BURST, max_concurrent_uploads=MAX_UPLOADS, cors_allowed_origins=[ORIGIN])
    with local_cluster(args=args, autoscaling={"min_replicas": 1, "max_replicas": 1}) as cluster:
        yield cluster


@pytest.fixture(scope="module")
def api(access_cluster: ServeCluster) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=access_cluster.url, timeout=300) as client:
        yield client


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def error_code(response: httpx.Response) -> str:
    return response.json()["error"]["code"]


def headers_only(url: str, path: str, headers: dict[str, str]) -> http.client.HTTPResponse:
    """Send a POST's headers (announcing a large body) but none of its body; the response."""
    parts = urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    connection.putrequest("POST", path)
    for name, value in {"Content-Type": "multipart/form-data; boundary=x", "Content-Length": "50000000",
                        **headers}.items():
        connection.putheader(name, value)
    connection.endheaders()
    return connection.getresponse()  # a socket timeout here: the server waited for the body


def test_analysis_routes_need_a_valid_key(api: httpx.Client, keys: dict[str, str]) -> None:
    missing = api.post("/analyze", files={"video": ("clip.mp4", b"x")})
    assert missing.status_code == 401 and error_code(missing) == "unauthorized"
    assert missing.headers["www-authenticate"] == "Bearer"
    wrong = api.post("/analyze", headers=bearer(keys["main"][:-1] + ("B" if keys["main"].endswith("A") else "A")), files={"video": ("clip.mp4", b"x")})
    assert wrong.status_code == 401 and error_code(wrong) == "unauthorized"
    assert wrong.headers["www-authenticate"] == 'Bearer error="invalid_token"'
    basic = api.post("/analyze", headers={"Authorization": f"Basic {keys['main']}"})
    assert basic.status_code == 401
    # Every route under /analyze, including ones that do not exist yet.
    future = api.post("/analyze/stream")
    assert future.status_code == 401 and error_code(future) == "unauthorized"


def test_key_is_checked_before_the_body_is_read(access_cluster: ServeCluster, keys: dict[str, str]) -> None:
    # The announced 50 MB is over the 8 MB upload limit too: auth answers first.
    response = headers_only(access_cluster.url, "/analyze", {"Authorization": "Bearer not-a-key-at-all-123"})
    assert response.status == 401 and json.loads(response.read())["error"]["code"] == "unauthorized"


def test_valid_key_analyses_a_video(api: httpx.Client, keys: dict[str, str], person_video: bytes) -> None:
    response = api.post("/analyze", headers={"Authorization": f"bearer {keys['main']}"},  # scheme: any case
                         files={"video": ("clip.mp4", person_video)})
    assert response.status_code == 200, response.text
    assert response.json()["analysis"]["frames_analyzed"] == 30 and response.json()["dancers"]


def test_page_is_open_and_sends_the_key_typed_in(
    browser: Any, access_cluster: ServeCluster, keys: dict[str, str], person_video: bytes, tmp_path: Path
) -> None:
    """With keys on, the page loads without one; its analysis says a key is needed, then works with it."""
    page = browser.new_page()
    try:
        page.goto(access_cluster.url + "/")
        video = tmp_path / "dance.mp4"
        video.write_bytes(person_video)
        page.set_input_files("#video-input", video)
        page.click("#analyse-button")
        page.wait_for_selector("#error:not([hidden])", timeout=60_000)
        assert page.get_attribute("#error", "data-code") == "unauthorized", page.inner_text("#error")
        assert "needs a valid API key" in page.inner_text("#error")
        page.fill("#api-key", keys["page"])
        page.click("#analyse-button")
        page.wait_for_selector("#results:not([hidden])", timeout=180_000)
        assert page.is_hidden("#error") and page.locator(".bar.pose").count() >= 1
    finally:
        page.close()


def test_health_vocabulary_and_docs_stay_open(api: httpx.Client) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    assert "arms_up" in api.get("/poses").json()["poses"]
    assert api.get("/openapi.json").status_code == 200 and api.get("/docs").status_code == 200


def test_keys_rotate_by_replacing_the_file(api: httpx.Client, key_file: Path, keys: dict[str, str]) -> None:
    original = key_file.read_text()
    added = secrets.token_urlsafe(32)
    try:
        replacement = key_file.with_name("api_keys.new")
        replacement.write_text(original + added + "\n")
        replacement.chmod(0o600)
        os.replace(replacement, key_file)
        # Accepted without a redeploy: the request gets past auth (to the missing video).
        response = api.post("/analyze", headers=bearer(added))
        assert response.status_code == 400 and error_code(response) == "missing_video"
    finally:
        key_file.write_text(original)
    assert api.post("/analyze", headers=bearer(added)).status_code == 401  # revoked


def test_rate_limit_per_key_with_retry_after(api: httpx.Client, keys: dict[str, str]) -> None:
    # Requests that fail fast (no video) still take a token: the limit is on requests.
    statuses = [api.post("/analyze", headers=bearer(keys["rate"])).status_code for _ in range(BURST)]
    assert statuses == [400] * BURST
    limited = api.post("/analyze", headers=bearer(keys["rate"]))
    assert limited.status_code == 429 and error_code(limited) == "rate_limited"
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 60 / PER_MINUTE + 1
    # Another client is unaffected.
    assert api.post("/analyze", headers=bearer(keys["other"])).status_code == 400
    time.sleep(retry_after)
    assert api.post("/analyze", headers=bearer(keys["rate"])).status_code == 400


def test_cors_for_the_allowed_origin_only(api: httpx.Client, keys: dict[str, str]) -> None:
    preflight = {"Access-Control-Request-Method": "POST", "Access-Control-Request-Headers": "authorization"}
    allowed = api.options("/analyze", headers={"Origin": ORIGIN, **preflight})
    assert allowed.status_code == 200  # no key needed: browsers send none on a preflight
    assert allowed.headers["access-control-allow-origin"] == ORIGIN
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
    assert "POST" in allowed.headers["access-control-allow-methods"]

    other = api.options("/analyze", headers={"Origin": "https://evil.example", **preflight})
    assert other.status_code == 400 and error_code(other) == "cors_rejected"
    assert "access-control-allow-origin" not in other.headers

    # Actual requests: the header for the allowed origin, errors included (so a page
    # can read them), and never for another origin.
    assert api.get("/healthz", headers={"Origin": ORIGIN}).headers["access-control-allow-origin"] == ORIGIN
    unauthorized = api.post("/analyze", headers={"Origin": ORIGIN})
    assert unauthorized.status_code == 401 and unauthorized.headers["access-control-allow-origin"] == ORIGIN
    assert "retry-after" in unauthorized.headers["access-control-expose-headers"].lower()
    assert "access-control-allow-origin" not in api.get("/healthz", headers={"Origin": "https://evil.example"}).headers


def test_concurrency_limit_answers_503_at_once_while_uploads_are_in_flight(
    access_cluster: ServeCluster, api: httpx.Client, keys: dict[str, str], person_video: bytes
) -> None:
    # MAX_UPLOADS uploads held open halfway through their bodies.
    request = api.build_request("POST", "/analyze", headers=bearer(keys["main"]),
                                 files={"video": ("clip.mp4", person_video)})
    body = request.read()
    half = len(body) // 2
    parts = urlsplit(access_cluster.url)
    held = []
    for _ in range(MAX_UPLOADS):
        connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=300)
        connection.putrequest("POST", "/analyze")
        for name in ("content-type", "content-length", "authorization"):
            connection.putheader(name, request.headers[name])
        connection.endheaders()
        connection.send(body[:half])
        held.append(connection)
    try:
        time.sleep(2)  # their headers reach the ingress at once; the bodies wait on us

        overloaded = headers_only(access_cluster.url, "/analyze", bearer(keys["other"]))
        assert overloaded.status == 503, overloaded.read()
        assert json.loads(overloaded.read())["error"]["code"] == "overloaded"
        assert int(overloaded.getheader("Retry-After")) > 0
        assert api.get("/healthz").status_code == 200  # room left for the rest
    finally:
        for connection in held:
            connection.send(body[half:])
    # The held uploads finish normally, then the slots are free again.
    for connection in held:
        response = connection.getresponse()
        assert response.status == 200
        assert json.loads(response.read())["analysis"]["frames_analyzed"] == 30
        connection.close()
    again = api.post("/analyze", headers=bearer(keys["other"]), files={"video": ("clip.mp4", person_video)})
    assert again.status_code == 200
    assert api.get("/healthz").status_code == 200


def test_rejections_are_counted_by_code(access_cluster: ServeCluster) -> None:
    # Runs after the tests above, which provoked each of these.
    wanted = ['code="unauthorized"', 'code="rate_limited"', 'code="overloaded"']

    def exported() -> bool:
        text = httpx.get(access_cluster.metrics_url, timeout=10).text
        lines = [line for line in text.splitlines() if line.startswith("ray_dance_rejected_requests_total")]
        return all(any(w in line for line in lines) for w in wanted)

    wait_for(exported, 90, "rejections on the Prometheus endpoint", interval_s=3)
    text = httpx.get(access_cluster.metrics_url, timeout=10).text
    unauthorized = re.search(r'^ray_dance_rejected_requests_total\{[^}]*code="unauthorized"[^}]*\} ([0-9.e+]+)$',
                             text, re.M)
    assert unauthorized and float(unauthorized.group(1)) >= 5


def test_without_auth_clients_are_told_apart_by_address(access_cluster: ServeCluster, api: httpx.Client) -> None:
    # Last in the module: redeploys with auth off and a bucket of one request a minute.
    config = copy.deepcopy(access_cluster.config)
    config["applications"][0]["args"].update(api_key_file=None, rate_limit_per_minute=1, rate_limit_burst=1)
    access_cluster.deploy(config)
    poll = {"X-Forwarded-For": "192.0.2.1"}  # a bucket of its own
    wait_for(lambda: api.post("/analyze", headers=poll).status_code != 401, 120, "the ingress without auth")

    # Serve's proxy (uvicorn) reports the TCP peer, here loopback...
    assert api.post("/analyze").status_code == 400
    assert api.post("/analyze").status_code == 429
    # ...but a loopback peer is trusted as a reverse proxy (uvicorn's FORWARDED_ALLOW_IPS
    # default): the client is the last address it put in X-Forwarded-For.
    assert api.post("/analyze", headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 400
    assert api.post("/analyze", headers={"X-Forwarded-For": "198.51.100.9"}).status_code == 429
    # What a client wrote into the header itself comes before the proxy's entry: ignored.
    assert api.post("/analyze", headers={"X-Forwarded-For": "198.51.100.9, 198.51.100.10"}).status_code == 400
    assert api.post("/analyze", headers={"X-Forwarded-For": "198.51.100.10"}).status_code == 429


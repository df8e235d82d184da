"""Fuzzing the running service over HTTP: schemathesis from ``/openapi.json``, and
damaged videos uploaded to ``/analyze``.

schemathesis generates requests for every operation in the schema, valid and invalid
(wrong types, missing fields, junk bodies and headers, unsupported methods), and checks
each response: never a 5xx, a status and body the schema documents (errors are
``{"error": {"code", "message"}}``), invalid requests rejected with a 4xx. A
schema-valid upload is not a valid video, so "valid requests succeed" is not checked:
415 is the right answer to a random "video".
"""

from __future__ import annotations

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import positive_data_acceptance

from serve_app.http_errors import STATUS_BY_CODE
from testbed.cluster import ServeCluster
from tests.fuzzing import fuzz_examples, long_run
from tests.video_mutations import Seeds, mutants, seed_videos


@pytest.fixture(scope="module")
def api_schema(serve_cluster: ServeCluster) -> schemathesis.BaseSchema:
    return schemathesis.openapi.from_url(f"{serve_cluster.url}/openapi.json")


def assert_error_body(response: httpx.Response | schemathesis.Response) -> None:
    """A non-2xx answer is our JSON error, whatever the route or method."""
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message"}, body
    assert isinstance(body["error"]["code"], str) and isinstance(body["error"]["message"], str)


# The Python API, not ``schemathesis.pytest.from_fixture``: its lazy loader fails on
# pytest 9 ("'Function' object has no attribute '_nodeid'").
@settings(max_examples=fuzz_examples(120), deadline=None, derandomize=not long_run(),
          suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_api_conforms_to_its_schema(
    data: st.DataObject, api_schema: schemathesis.BaseSchema, serve_cluster: ServeCluster
) -> None:
    """Every operation, with valid and invalid requests, through all of schemathesis's checks."""
    mode = data.draw(st.sampled_from(list(GenerationMode)), label="mode")
    case = data.draw(api_schema.as_strategy(mode), label="request")
    response = case.call_and_validate(base_url=serve_cluster.url, timeout=60,
                                      excluded_checks=[positive_data_acceptance])
    event(f"{case.operation.label} -> {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code >= 400:
        assert_error_body(response)


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    return seed_videos(tmp_path_factory.mktemp("http_fuzz_seeds"))


@settings(max_examples=fuzz_examples(20), deadline=None, derandomize=not long_run(),
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(data=st.data())
def test_damaged_uploads_get_a_result_or_a_4xx(data: st.DataObject, client: httpx.Client, seeds: Seeds) -> None:
    upload = data.draw(mutants(seeds), label="upload")
    response = client.post("/analyze", files={"video": ("upload.mp4", upload, "application/octet-stream")})
    assert response.status_code in (200, 400, 413, 415, 422), response.text
    if response.status_code == 200:
        assert response.json()["video"]["frame_count"] > 0
    else:
        assert_error_body(response)
        assert STATUS_BY_CODE[response.json()["error"]["code"]] == response.status_code

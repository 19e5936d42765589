"""The decision service against a running `cspolicy serve`: every endpoint, errors, auth, logs."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from openapi_spec_validator import validate
from service_helpers import CASES, CLI, KEYS, MAX_BODY, POLICIES, ROOT, Server, snapshot_json

from cspolicy import CaseSnapshot, load_policy

WI = "/v1/policies/wisconsin"


# -- health, auth -----------------------------------------------------------------------------
def test_health_and_metrics_need_no_key(server: Server) -> None:
    with server.client(key=None) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz").json()
        assert ready["status"] == "ready" and ready["policies"] == 5
        metrics = client.get("/metrics")
        assert metrics.status_code == 200
        assert "cspolicy_http_requests_total" in metrics.text


def test_missing_or_wrong_key_is_401(server: Server) -> None:
    with server.client(key=None) as client:
        response = client.get("/v1/policies")
        assert response.status_code == 401
        assert response.headers["www-authenticate"] == "Bearer"
        assert response.json()["error"]["code"] == "unauthorized"
        wrong = client.get("/v1/policies", headers={"Authorization": "Bearer csk_not_a_key"})
        assert wrong.status_code == 401


def test_key_without_scope_is_403_and_with_scope_200(server: Server) -> None:
    body = snapshot_json("04-passport-level.yaml")
    with server.client("reader") as reader:
        assert reader.get("/v1/policies").status_code == 403
        assert reader.post(f"{WI}/decisions", content=body).status_code == 403
    with server.client("decider") as decider:
        assert decider.get("/v1/policies").status_code == 200
        assert decider.post(f"{WI}/decisions", content=body).status_code == 200
        stored = decider.post(f"{WI}/decisions?store=true", content=body)
        record = stored.headers["x-record-id"]
        assert decider.get(f"/v1/records/{record}").status_code == 403
    with server.client("reader") as reader:
        assert reader.get(f"/v1/records/{record}").status_code == 200


# -- policies and rules -----------------------------------------------------------------------
def test_policies_list_versions_digests_and_rule_counts(server: Server) -> None:
    with server.client() as client:
        listed = {p["id"]: p for p in client.get("/v1/policies").json()["policies"]}
    assert set(listed) == {"california", "federal", "milwaukee-back-on-track", "san-bernardino", "wisconsin"}
    wisconsin = listed["wisconsin"]
    latest = load_policy(POLICIES / "wisconsin")
    assert wisconsin["digest"] == latest.digest
    assert wisconsin["rule_count"] == len(latest.rule_ids)
    versions = [(v["version"], v["effective_from"], v["effective_to"]) for v in wisconsin["versions"]]
    assert versions == [("2024.1", "2024-01-01", "2025-01-13"), ("2025.1", "2025-01-13", None)]
    older = load_policy(POLICIES / "wisconsin", "2024-06-01")
    assert wisconsin["versions"][0]["digest"] == older.digest


def test_one_policy_and_unknown_policy_404_with_suggestion(server: Server) -> None:
    with server.client() as client:
        detail = client.get(WI, params={"as_of": "2024-06-01"}).json()
        assert detail["version"] == "2024.1"
        assert "passport-denial" in {r["id"] for r in detail["rules"]}
        missing = client.get("/v1/policies/wisconsn")
    assert missing.status_code == 404
    error = missing.json()["error"]
    assert error["suggestion"] == "wisconsin"
    assert "did you mean 'wisconsin'" in error["message"]


def test_rule_as_the_docs_describe_it(server: Server) -> None:
    with server.client() as client:
        rule = client.get(f"{WI}/rules/passport-denial", params={"as_of": "2025-03-01"}).json()
        assert rule["version"] == "2025.1" and rule["kind"] == "threshold"
        assert rule["action"] == "certify_passport_denial"
        assert rule["summary"]
        assert rule["when"][0]["expr"] == "arrears.total > params.passport_denial_threshold"
        assert "passport denial threshold ($2,500)" in rule["when"][0]["text"]
        assert {c["source"] for c in rule["citations"]} >= {"usc-652"}
        (threshold,) = [p for p in rule["parameters"] if p["name"] == "passport_denial_threshold"]
        assert threshold["value"] == "2500" and threshold["text"] == "$2,500"
        old = client.get(f"{WI}/rules/passport-denial", params={"as_of": "2000-01-01"})
        assert old.status_code == 200  # before every version: the latest is described
        typo = client.get(f"{WI}/rules/passport-denail")
    assert typo.status_code == 404
    assert typo.json()["error"]["suggestion"] == "passport-denial"


# -- decisions --------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "case",
    ["04-passport-level.yaml", "09-job-loss-2024.yaml", "07-parent-in-et.yaml", "18-fully-current.yaml"],
)
def test_decision_is_byte_equal_to_the_cli(server: Server, tmp_path: Path, case: str) -> None:
    body = snapshot_json(case)
    file = tmp_path / "case.json"
    file.write_text(body, encoding="utf-8")
    printed = subprocess.run(
        [str(CLI), "evaluate", str(file), "--policy", str(POLICIES / "wisconsin"), "--format", "json"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    with server.client("decider") as client:
        response = client.post(f"{WI}/decisions", content=body)
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.content == printed


def test_store_true_saves_a_record_readable_and_replayable(server: Server) -> None:
    body = snapshot_json("05-license-suspension.yaml")
    with server.client() as client:
        decided = client.post(f"{WI}/decisions", params={"store": "true"}, content=body)
        assert decided.status_code == 200
        record_id = decided.headers["x-record-id"]
        assert decided.headers["location"] == f"/v1/records/{record_id}"
        record = client.get(f"/v1/records/{record_id}").json()
        assert record["record"]["record_id"] == record_id
        assert record["record"]["policy"]["digest"] == decided.json()["policy"]["digest"]
        assert record["decision"] == decided.json()
        replay = client.post(f"/v1/records/{record_id}/replay").json()
        assert replay["identical"] is True and replay["replayed"] == decided.json()
        assert client.get("/v1/records/rec-00000000000000000000000000000000").status_code == 404
        assert client.post("/v1/records/not-a-record/replay").status_code == 404


def test_batch_streams_one_line_per_input_in_order(server: Server) -> None:
    cases = ["04-passport-level.yaml", "09-job-loss-2024.yaml", "18-fully-current.yaml"]
    bodies = [json.dumps(json.loads(snapshot_json(c))) for c in cases]
    invalid = json.dumps({"case_id": "BAD-1", "as_of": "2025-01-01"})
    lines = [bodies[0], invalid, bodies[1], "", "{not json", bodies[2]]
    with server.client() as client:
        singles = [client.post(f"{WI}/decisions", content=b).json() for b in bodies]
        response = client.post(f"{WI}/decisions:batch", content="\n".join(lines) + "\n")
        as_array = client.post(f"{WI}/decisions:batch", content="[" + ",".join(bodies) + "]")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ndjson")
    out = [json.loads(line) for line in response.text.splitlines()]
    assert len(out) == 5  # the blank line is skipped
    assert [out[0], out[2], out[4]] == singles
    assert out[1]["line"] == 2 and out[1]["error"]["code"] == "CSP501"
    assert {p["path"] for p in out[1]["error"]["problems"]} == {"jurisdiction", "order"}
    assert out[3]["line"] == 5 and "invalid JSON" in out[3]["error"]["problems"][0]["message"]
    assert [json.loads(line) for line in as_array.text.splitlines()] == singles


def test_why_not_is_the_library_explanation(server: Server) -> None:
    body = snapshot_json("18-fully-current.yaml")
    with server.client() as client:
        response = client.post(f"{WI}/rules/passport-denial/why-not", content=body)
        typo = client.post(f"{WI}/rules/pasport-denial/why-not", content=body)
    snapshot = CaseSnapshot.from_file(CASES / "18-fully-current.yaml")
    expected = load_policy(POLICIES / "wisconsin", snapshot.as_of).why_not(snapshot, "passport-denial")
    assert response.status_code == 200
    assert response.json() == expected.model_dump(mode="json")
    assert response.json()["status"] == "not applicable"
    assert typo.status_code == 404 and typo.json()["error"]["suggestion"] == "passport-denial"


# -- errors -----------------------------------------------------------------------------------
def test_invalid_snapshot_is_422_with_the_library_problems(server: Server) -> None:
    data = json.loads(snapshot_json("04-passport-level.yaml"))
    data["order"]["monthly_amount"] = "-5"
    data["surprise"] = 1
    with server.client() as client:
        response = client.post(f"{WI}/decisions", content=json.dumps(data))
        not_json = client.post(f"{WI}/decisions", content=b"{")
    assert response.status_code == 422
    error = response.json()["error"]
    assert error["code"] == "CSP501"
    problems = {p["path"]: p for p in error["problems"]}
    assert set(problems) == {"order.monthly_amount", "surprise"}
    assert problems["surprise"]["message"] == "surprise: unknown field (got 1)"
    assert all(p["code"] == "CSP501" for p in problems.values())
    assert not_json.status_code == 422 and "Traceback" not in not_json.text


def test_case_outside_every_version_is_422_with_csp207(server: Server) -> None:
    data = json.loads(snapshot_json("04-passport-level.yaml"))
    data["as_of"] = "2010-06-01"
    with server.client() as client:
        response = client.post(f"{WI}/decisions", content=json.dumps(data))
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "CSP207"
    assert "2010-06-01" in response.json()["error"]["message"]


def test_body_over_the_limit_is_413_declared_or_streamed(server: Server) -> None:
    big = b" " * (MAX_BODY + 1)

    def chunks():  # no Content-Length: the limit is counted as the body arrives
        for _ in range(5):
            yield b" " * (MAX_BODY // 4)

    with server.client() as client:
        declared = client.post(f"{WI}/decisions", content=big)
        streamed = client.post(f"{WI}/decisions", content=chunks())
    assert declared.status_code == 413 and declared.json()["error"]["code"] == "body_too_large"
    assert streamed.status_code == 413 and streamed.json()["error"]["code"] == "body_too_large"


def test_metrics_count_decisions_by_action_and_latency(server: Server) -> None:
    with server.client() as client:
        client.post(f"{WI}/decisions", content=snapshot_json("04-passport-level.yaml"))
        text = client.get("/metrics").text
    assert 'cspolicy_decisions_total{action="certify_passport_denial",policy="wisconsin"}' in text
    assert "cspolicy_http_request_duration_seconds_bucket" in text
    assert 'cspolicy_errors_total{code="CSP501"}' in text or "cspolicy_errors_total" in text


def test_log_line_per_decision_never_carries_snapshot_values(server: Server) -> None:
    data = json.loads(snapshot_json("04-passport-level.yaml"))
    data["case_id"] = "WI-LOGCHECK-1"
    data["jurisdiction"]["county"] = "Plantedcountyzq"
    data["order"]["monthly_amount"] = "4321.09"
    bad = json.loads(json.dumps(data))
    bad["paying_parent"]["employment"] = "Plantedvaluezq"
    with server.client("decider") as client:
        stored = client.post(f"{WI}/decisions?store=true", content=json.dumps(data))
        assert stored.status_code == 200
        assert client.post(f"{WI}/decisions", content=json.dumps(bad)).status_code == 422
        client.post(f"{WI}/decisions:batch", content=json.dumps(data))
    log = server.log_text()
    for planted in ("Plantedcountyzq", "4321.09", "Plantedvaluezq"):
        assert planted not in log
    lines = [json.loads(line) for line in log.splitlines() if line.startswith("{")]
    (line,) = [entry for entry in lines if entry.get("record_id") == stored.headers["x-record-id"]]
    assert line["event"] == "decision" and line["key"] == "decider"
    assert line["case_id"] == "WI-LOGCHECK-1"
    assert line["policy_digest"] == stored.json()["policy"]["digest"]


# -- OpenAPI ----------------------------------------------------------------------------------
def test_openapi_is_valid_and_complete(server: Server) -> None:
    with server.client(key=None) as client:
        spec = client.get("/openapi.json").json()
    validate(spec)
    paths = set(spec["paths"])
    assert paths == {
        "/v1/policies",
        "/v1/policies/{policy_id}",
        "/v1/policies/{policy_id}/rules/{rule_id}",
        "/v1/policies/{policy_id}/decisions",
        "/v1/policies/{policy_id}/decisions:batch",
        "/v1/policies/{policy_id}/rules/{rule_id}/why-not",
        "/v1/records/{record_id}",
        "/v1/records/{record_id}/replay",
        "/healthz",
        "/readyz",
        "/metrics",
    }
    schemas = spec["components"]["schemas"]
    assert {"CaseSnapshot", "DecisionModel", "WhyNot", "ErrorBody", "RuleDetail"} <= set(schemas)


def test_schemathesis_finds_no_server_error(server: Server, tmp_path: Path) -> None:
    """A bounded run (loopback only, a few examples per operation, at most 30 s of fuzzing)."""
    st = CLI.with_name("st")
    result = subprocess.run(
        [
            str(st),
            "run",
            server.url + "/openapi.json",
            "--checks",
            "not_a_server_error",
            "--phases",
            "examples,fuzzing",
            "--max-examples",
            "5",
            "--max-time",
            "30",
            "--seed",
            "17",
            "--no-shrink",
            "--workers",
            "1",
            "--header",
            f"Authorization: Bearer {KEYS['admin']}",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert "Traceback" not in server.log_text()

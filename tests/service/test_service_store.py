"""Stored decisions through a running `cspolicy serve`: batches that save, and the `store` flag."""

from __future__ import annotations

import json

from service_helpers import Server, snapshot_json

WI = "/v1/policies/wisconsin"


def test_batch_with_store_saves_every_decision_and_names_its_record(server: Server) -> None:
    cases = ["04-passport-level.yaml", "09-job-loss-2024.yaml"]
    bodies = [json.dumps(json.loads(snapshot_json(c))) for c in cases]
    invalid = json.dumps({"case_id": "BAD-2", "as_of": "2025-01-01"})
    with server.client() as client:
        singles = [client.post(f"{WI}/decisions", content=b).json() for b in bodies]
        response = client.post(
            f"{WI}/decisions:batch",
            params={"store": "true"},
            content="\n".join([bodies[0], invalid, bodies[1]]),
        )
        assert response.status_code == 200
        out = [json.loads(line) for line in response.text.splitlines()]
        assert [o["line"] for o in out] == [1, 2, 3]
        assert "error" in out[1] and "record_id" not in out[1]
        stored = [out[0], out[2]]
        assert [o["decision"] for o in stored] == singles
        record_ids = [o["record_id"] for o in stored]
        assert len(set(record_ids)) == 2
        for line, record_id in zip(stored, record_ids, strict=True):
            record = client.get(f"/v1/records/{record_id}")
            assert record.status_code == 200
            assert record.json()["decision"] == line["decision"]
            assert record.json()["record"]["case_id"] == line["decision"]["case_id"]
        plain = client.post(f"{WI}/decisions:batch", content=bodies[0])
        assert json.loads(plain.text) == singles[0]  # without ?store the line is the decision itself


def test_store_flag_is_read_like_any_boolean_parameter(server: Server) -> None:
    body = snapshot_json("04-passport-level.yaml")
    with server.client() as client:
        on = client.post(f"{WI}/decisions?store=YES", content=body)
        off = client.post(f"{WI}/decisions?store=0", content=body)
        bad = client.post(f"{WI}/decisions?store=maybe", content=body)
    assert on.status_code == 200 and on.headers["x-record-id"].startswith("rec-")
    assert off.status_code == 200 and "x-record-id" not in off.headers
    assert bad.status_code == 422
    error = bad.json()["error"]
    assert error["code"] == "request_invalid" and error["problems"][0]["path"] == "query.store"

"""Explanations in the language `Accept-Language` asks for, from a running `cspolicy serve`:
Spanish and English why-not and plain-text decisions, the JSON decision unchanged, the language
headers, and a policy set without Spanish texts answered with the located problems."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from service_helpers import CASES, CLI, POLICIES, ROOT, Server, snapshot_json, start_server, write_keys

from cspolicy import CaseSnapshot, load_policy
from cspolicy.engine.versions import PolicyVersions
from cspolicy.service.language import negotiate

WI = "/v1/policies/wisconsin"
CASE = "04-passport-level.yaml"


@pytest.mark.parametrize(
    ("header", "lang"),
    [
        (None, "en"),
        ("", "en"),
        ("es", "es"),
        ("es-MX", "es"),
        ("ES-us", "es"),
        ("en-US,en;q=0.9", "en"),
        ("fr-CA, es;q=0.5, en;q=0.4", "es"),  # French is not offered: the next best is
        ("en;q=0.4, es;q=0.8", "es"),
        ("es;q=0.3, en;q=0.9", "en"),
        ("es;q=0", "en"),  # q=0 refuses Spanish
        ("es;q=abc", "en"),  # a q-value that does not parse refuses the range
        ("es, en", "es"),  # equal weight: the first written
        ("*", "en"),
        ("de", "en"),
        (";;;,,,q=", "en"),
    ],
)
def test_accept_language_is_negotiated(header: str | None, lang: str) -> None:
    assert negotiate(header) == lang


def expected_decision(case: str = CASE) -> tuple[CaseSnapshot, object]:
    snapshot = CaseSnapshot.from_file(CASES / case)
    return snapshot, PolicyVersions(POLICIES / "wisconsin").evaluate(snapshot)


@pytest.mark.parametrize(("header", "lang"), [("es-US,es;q=0.9,en;q=0.5", "es"), ("en-US", "en")])
def test_why_not_speaks_the_language_asked(server: Server, header: str, lang: str) -> None:
    body = snapshot_json("18-fully-current.yaml")
    with server.client() as client:
        response = client.post(
            f"{WI}/rules/passport-denial/why-not", content=body, headers={"Accept-Language": header}
        )
    snapshot = CaseSnapshot.from_file(CASES / "18-fully-current.yaml")
    decision = load_policy(POLICIES / "wisconsin", snapshot.as_of).evaluate(snapshot)
    expected = decision.why_not("passport-denial", lang=lang)
    assert response.status_code == 200
    assert response.headers["content-language"] == lang
    assert response.headers["vary"] == "Accept-Language"
    answer = response.json()
    assert answer == expected.model_dump(mode="json")
    assert answer["status"] == "not applicable" and answer["failed"]
    english = decision.why_not("passport-denial")
    if lang == "es":
        assert answer["title"] != english.title
        assert answer["text"] != english.text
        assert "no corresponde porque" in answer["text"]
    else:
        assert answer["text"] == english.text


@pytest.mark.parametrize(("header", "lang"), [("es", "es"), ("en", "en"), (None, "en")])
def test_explain_text_is_the_decision_in_the_language_asked(
    server: Server, header: str | None, lang: str
) -> None:
    body = snapshot_json(CASE)
    headers = {"Accept-Language": header} if header else {}
    with server.client("decider") as client:
        response = client.post(f"{WI}/decisions", params={"explain": "text"}, content=body, headers=headers)
    _, decision = expected_decision()
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/plain; charset=utf-8"
    assert response.headers["content-language"] == lang
    assert response.headers["vary"] == "Accept-Language"
    assert response.text == decision.to_text(lang)  # type: ignore[attr-defined]
    assert response.text.startswith("Caso " if lang == "es" else "Case ")


def test_the_json_decision_is_the_clis_whatever_the_language(server: Server, tmp_path: Path) -> None:
    """The decision JSON is the record's, in English: byte-equal to the CLI's with `es` asked."""
    body = snapshot_json(CASE)
    file = tmp_path / "case.json"
    file.write_text(body, encoding="utf-8")
    printed = subprocess.run(
        [str(CLI), "evaluate", str(file), "--policy", str(POLICIES / "wisconsin"), "--format", "json"],
        capture_output=True,
        check=True,
        cwd=ROOT,
    ).stdout
    with server.client("decider") as client:
        spanish = client.post(f"{WI}/decisions", content=body, headers={"Accept-Language": "es"})
        plain = client.post(f"{WI}/decisions", content=body)
    assert spanish.content == plain.content == printed
    assert spanish.headers["content-type"] == "application/json"
    assert spanish.headers["content-language"] == "en"


def test_explain_text_with_store_saves_and_says_the_record(server: Server) -> None:
    body = snapshot_json(CASE)
    with server.client() as client:
        response = client.post(
            f"{WI}/decisions",
            params={"explain": "text", "store": "true"},
            content=body,
            headers={"Accept-Language": "es"},
        )
        record = client.get(f"/v1/records/{response.headers['x-record-id']}")
    assert response.status_code == 200 and response.text.startswith("Caso ")
    assert record.status_code == 200


def test_an_unknown_explain_value_is_422(server: Server) -> None:
    with server.client("decider") as client:
        response = client.post(f"{WI}/decisions", params={"explain": "html"}, content=snapshot_json(CASE))
    assert response.status_code == 422
    problem = response.json()["error"]["problems"][0]
    assert problem["path"] == "query.explain"


def test_openapi_documents_the_language(server: Server) -> None:
    with server.client(key=None) as client:
        spec = client.get("/openapi.json").json()
    for path in (
        f"{WI.replace('wisconsin', '{policy_id}')}/decisions",
        "/v1/policies/{policy_id}/rules/{rule_id}/why-not",
    ):
        operation = spec["paths"][path]["post"]
        names = {p["name"] for p in operation["parameters"]}
        assert "Accept-Language" in names
        assert {"Content-Language", "Vary"} <= set(operation["responses"]["200"]["headers"])
        assert "translation_missing" in operation["responses"]["500"]["description"]
    decisions = spec["paths"]["/v1/policies/{policy_id}/decisions"]["post"]
    assert "explain" in {p["name"] for p in decisions["parameters"]}
    assert "text/plain" in decisions["responses"]["200"]["content"]


def test_a_set_without_spanish_texts_answers_500_with_the_missing_texts(
    tmp_path: Path, copied_policies: Path
) -> None:
    (copied_policies / "federal" / "policy.es.yaml").unlink()
    keys = write_keys(tmp_path / "keys.yaml")
    server = start_server(tmp_path, copied_policies, "--api-keys", str(keys))
    try:
        body = snapshot_json("18-fully-current.yaml")
        with server.client() as client:
            spanish = client.post(
                "/v1/policies/federal/rules/passport-denial/why-not",
                content=body,
                headers={"Accept-Language": "es"},
            )
            text = client.post(
                "/v1/policies/federal/decisions",
                params={"explain": "text"},
                content=body,
                headers={"Accept-Language": "es-US"},
            )
            english = client.post(
                "/v1/policies/federal/rules/passport-denial/why-not",
                content=body,
                headers={"Accept-Language": "en"},
            )
    finally:
        server.stop()
    assert english.status_code == 200 and english.headers["content-language"] == "en"
    for response in (spanish, text):
        assert response.status_code == 500
        error = response.json()["error"]
        assert error["code"] == "translation_missing"
        assert "cspolicy check --lang es" in error["message"]
        assert error["problems"], "the missing texts are listed"
        assert {p["code"] for p in error["problems"]} == {"CSP210"}
        assert any(
            p["location"].startswith(str(copied_policies / "federal" / "policy.yaml"))
            for p in error["problems"]
        )
        assert any("has no Spanish title and summary" in p["message"] for p in error["problems"])
    assert "Traceback" not in server.log_text()
    assert json.loads(english.text)["rule"] == "passport-denial"

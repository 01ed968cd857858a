"""Required statements in the browser: the library section (reviewers read, supervisors
edit, add a tenant's override and delete it), the scorecard's statements, the list of calls
that missed one, and the statements in the library's YAML export and import."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from agent_console.app import create_app
from agent_console.settings import Settings
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import Call
from qa_review import service as qa_service
from qa_review.engine import RuleLibrary, StatementHeard, StatementResult
from qa_review.models import QaRequiredStatement
from tests.agent_console.test_console_views import csrf_of, sign_in


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # A remote transcription URL keeps the model from loading: these pages never need it.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("qa_statements"),
        demo=True,
        transcription_url="ws://127.0.0.1:9",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _factory(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
    return factory


def _statement(
    client: TestClient, key: str, language: str = "en", tenant: str = ""
) -> QaRequiredStatement | None:
    with _factory(client)() as session:
        return qa_service.get_statement(session=session, key=key, language=language, tenant=tenant)


def _token(client: TestClient) -> str:
    return csrf_of(client.get("/qa/library").text)


def _edit_url(key: str, language: str = "en", tenant: str = "") -> str:
    return "/qa/statements/edit?" + urlencode({"key": key, "language": language, "tenant": tenant})


def _save(client: TestClient, **fields: Any) -> Any:
    data = {"key": "", "language": "en", "tenant": "", "description": "", "phrases": ""}
    data.update({"enabled": "true", **fields, "csrf": _token(client)})
    if data["enabled"] is None:
        del data["enabled"]
    return client.post("/qa/statements", data=data, follow_redirects=False)


def _demo_call(client: TestClient, account_ref: str) -> Call:
    with _factory(client)() as session:
        case = case_service.get_case_by_ref(session=session, account_ref=account_ref)
        assert case is not None
        (call,) = [
            c
            for c in case_service.list_calls_for_case(session=session, case_id=case.id)
            if c.source == "demo"
        ]
        return call


def _call_missing(client: TestClient, account_ref: str = "NW-100587") -> int:
    """A new call of a demo case that heard the identity check only."""
    with transaction(_factory(client)) as session:
        case = case_service.get_case_by_ref(session=session, account_ref=account_ref)
        assert case is not None and case.collector_id is not None
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=case.collector_id,
            source="test",
            language="en",
        )
        segment = case_service.add_segment(
            session=session,
            call_id=call.id,
            channel=0,
            speaker="agent",
            start=3.0,
            end=5.0,
            text="Am I speaking with the account holder?",
            words=[],
        )
        heard = StatementHeard("Am I speaking with", segment.id, 3.0)
        results = [
            StatementResult("identity_check", 1, heard),
            StatementResult("mini_miranda", 1, None),
            StatementResult("recording_notice", 1, None),
        ]
        qa_service.record_call_statements(session=session, call_id=call.id, results=results)
        case_service.end_call(session=session, call_id=call.id)
        return call.id


# --- who may see and change them -------------------------------------------------------------


def test_reviewers_see_the_statements_but_cannot_change_them(client: TestClient) -> None:
    sign_in(client, "quinn")
    page = client.get("/qa/library")
    assert page.status_code == 200
    assert 'data-testid="required-statements"' in page.text
    assert 'data-statement="mini_miranda" data-language="zh"' in page.text
    assert "this is an attempt to collect a debt" in page.text
    assert 'data-testid="edit-statement"' not in page.text
    assert 'data-testid="add-statement"' not in page.text
    assert "Only QA leads (supervisors) can change required statements." in page.text
    assert client.get(_edit_url("mini_miranda")).status_code == 403
    token = csrf_of(page.text)
    data = {"key": "mini_miranda", "language": "en", "phrases": "changed", "csrf": token}
    assert client.post("/qa/statements", data=data).status_code == 403
    delete = {"key": "mini_miranda", "language": "en", "tenant": "X", "csrf": token}
    assert client.post("/qa/statements/delete", data=delete).status_code == 403
    row = _statement(client, "mini_miranda")
    assert row is not None and row.version == 1


@pytest.mark.parametrize("username", ["alice", "tess"])
def test_collectors_and_trainers_get_403(client: TestClient, username: str) -> None:
    sign_in(client, username)
    for path in [_edit_url("mini_miranda"), "/qa/statements/missing"]:
        assert client.get(path).status_code == 403, path


def test_saving_needs_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "sara")
    data = {"key": "t_no_csrf", "language": "en", "phrases": "hello", "enabled": "true"}
    assert client.post("/qa/statements", data=data).status_code == 403
    assert _statement(client, "t_no_csrf") is None


# --- editing -----------------------------------------------------------------------------------


def test_a_supervisor_edits_a_default_and_the_version_goes_up_once(client: TestClient) -> None:
    sign_in(client, "sara")
    page = client.get("/qa/library")
    assert (
        'data-testid="edit-statement"' in page.text and 'data-testid="add-statement"' in page.text
    )
    editor = client.get(_edit_url("identity_check", "zh"))
    assert editor.status_code == 200 and 'data-testid="statement-form"' in editor.text
    assert "请问您是" in editor.text and 'name="key" value="identity_check"' in editor.text
    phrases = "请问您是\n是*本人吗\n请您报一下身份证后四位"
    response = _save(client, key="identity_check", language="zh", phrases=phrases)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/qa/statements/edit?key=identity_check&")
    saved = client.get(response.headers["location"])
    assert 'data-testid="statement-saved">Saved as version 2.' in saved.text
    again = _save(client, key="identity_check", language="zh", phrases=phrases)
    assert again.status_code == 303
    row = _statement(client, "identity_check", "zh")
    assert row is not None and row.version == 2 and row.phrases == phrases.splitlines()


def test_the_editor_alone_answers_an_htmx_request(client: TestClient) -> None:
    sign_in(client, "sara")
    response = client.get(_edit_url("recording_notice"), headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="statement-editor"')
    assert "<html" not in response.text and "this call may be recorded" in response.text


def test_invalid_input_shows_the_error_and_keeps_the_input(client: TestClient) -> None:
    sign_in(client, "sara")
    cases = [
        ({"key": "Fee Notice", "phrases": "fees apply"}, "slug"),
        ({"key": "t_fee_notice", "phrases": "a {nolist} fee"}, "unknown phrase list {nolist}"),
        ({"key": "t_fee_notice", "phrases": ""}, "at least one phrase unless disabled"),
        ({"key": "t_fee_notice", "language": "fr", "phrases": "x"}, "unsupported language"),
    ]
    for fields, message in cases:
        response = _save(client, description="Typed description", tenant="Typed Tenant", **fields)
        assert response.status_code == 422, fields
        error = re.search(r'data-testid="statement-error">([^<]*)<', response.text)
        assert error and message in html.unescape(error.group(1)), (fields, response.text[-500:])
        assert f'value="{html.escape(fields["key"])}"' in response.text
        assert "Typed description" in response.text and 'value="Typed Tenant"' in response.text
        assert html.escape(fields["phrases"]) in response.text
    assert _statement(client, "t_fee_notice", tenant="Typed Tenant") is None


def test_a_tenant_override_starts_from_the_default_and_can_be_deleted(client: TestClient) -> None:
    sign_in(client, "sara")
    tenant = "Woodgrove Bank"
    editor = client.get(_edit_url("recording_notice", "en", tenant))
    assert 'data-testid="statement-from-default"' in editor.text
    assert "this call * recorded" in editor.text  # the default's wording to start from
    assert f'value="{tenant}"' in editor.text

    response = _save(client, key="recording_notice", tenant=tenant, phrases="woodgrove records")
    assert response.status_code == 303
    waived = _save(client, key="mini_miranda", tenant=tenant, phrases="", enabled=None)
    assert waived.status_code == 303
    page = client.get("/qa/library")
    section = page.text[page.text.index(f'data-tenant="{tenant}"') :]
    effects = re.findall(r'data-testid="statement-effect">([^<]*)<', section)[:2]
    assert effects == ["waives the default", "replaces the default"]
    with _factory(client)() as session:
        keys = [
            (s.key, s.tenant)
            for s in qa_service.statements_for(session=session, language="en", tenant=tenant)
        ]
    assert keys == [("identity_check", ""), ("recording_notice", tenant)]

    token = _token(client)
    delete = {"key": "recording_notice", "language": "en", "tenant": tenant, "csrf": token}
    deleted = client.post("/qa/statements/delete", data=delete, follow_redirects=False)
    assert deleted.status_code == 303 and deleted.headers["location"].startswith("/qa/library")
    assert _statement(client, "recording_notice", tenant=tenant) is None
    assert client.post("/qa/statements/delete", data=delete).status_code == 404


def test_a_default_cannot_be_deleted(client: TestClient) -> None:
    sign_in(client, "sara")
    data = {"key": "mini_miranda", "language": "en", "tenant": "", "csrf": _token(client)}
    response = client.post("/qa/statements/delete", data=data)
    assert response.status_code == 422
    assert "disable it instead" in response.text
    assert _statement(client, "mini_miranda") is not None


# --- the scorecard and the missing list --------------------------------------------------------


def test_the_scorecard_shows_said_statements_with_their_words_and_time(client: TestClient) -> None:
    call = _demo_call(client, "NW-100231")  # the demo call with a recording
    sign_in(client, "quinn")
    card = client.get(f"/qa/calls/{call.id}")
    assert card.status_code == 200
    statements = card.context["card"].statements  # type: ignore[attr-defined]
    assert {s.key: s.said for s in statements} == {
        "identity_check": True,
        "mini_miranda": True,
        "recording_notice": True,
    }
    said = next(s for s in statements if s.key == "recording_notice")
    row = re.search(
        r'<tr data-statement="recording_notice" data-said="yes">.*?</tr>', card.text, re.S
    )
    assert row and f'data-seek="{said.stream_start}"' in row.group(0)
    assert f"“{said.evidence}”" in row.group(0)


def test_a_call_missing_statements_is_flagged_on_its_scorecard_and_listed(
    client: TestClient,
) -> None:
    call_id = _call_missing(client)
    sign_in(client, "quinn")
    card = client.get(f"/qa/calls/{call_id}")
    assert 'data-testid="verdict">Required statements missing<' in card.text
    assert '<tr data-statement="mini_miranda" data-said="no">' in card.text
    assert "“Am I speaking with”" in card.text

    queue = client.get("/qa")
    assert 'href="/qa/statements/missing"' in queue.text
    listed = client.get("/qa/statements/missing")
    assert listed.status_code == 200
    row = re.search(rf'<tr data-call-id="{call_id}">.*?</tr>', listed.text, re.S)
    assert row and re.findall(r'data-key="([^"]+)"', row.group(0)) == [
        "mini_miranda",
        "recording_notice",
    ]
    assert f'href="/qa/calls/{call_id}"' in row.group(0)
    only = client.get(
        "/qa/statements/missing?key=identity_check&collector_id=", headers={"HX-Request": "true"}
    )
    assert only.text.lstrip().startswith('<div id="missing-results">')
    assert f'data-call-id="{call_id}"' not in only.text
    filtered = client.get("/qa/statements/missing?key=mini_miranda&date_from=&date_to=")
    assert f'data-call-id="{call_id}"' in filtered.text


# --- YAML --------------------------------------------------------------------------------------


def _import(client: TestClient, content: bytes) -> Any:
    return client.post(
        "/qa/library/import",
        data={"csrf": _token(client)},
        files={"file": ("rules.yaml", content, "application/yaml")},
    )


def test_statements_travel_in_the_librarys_export_and_import(client: TestClient) -> None:
    sign_in(client, "sara")
    content = (
        b"required_statements:\n"
        b"  tenants:\n"
        b"    Tailspin Consumer Finance:\n"
        b"      en:\n"
        b"        t_fee_notice: {description: Fees said up front., phrases: ['a fee of # dollars']}\n"
    )
    response = _import(client, content)
    assert response.status_code == 200, response.text
    result = re.search(r'data-testid="import-result">([^<]*)<', response.text)
    assert result and "required statements: 1 added, 0 updated, 0 unchanged" in result.group(1)
    row = _statement(client, "t_fee_notice", tenant="Tailspin Consumer Finance")
    assert row is not None and row.description == "Fees said up front."

    exported = RuleLibrary.from_yaml(client.get("/qa/library/export.yaml").text)
    identities = {s.identity for s in exported.statements}
    assert ("t_fee_notice", "en", "Tailspin Consumer Finance") in identities
    assert ("mini_miranda", "zh", "") in identities

    broken = _import(client, b"required_statements: {en: {t_bad: ['*']}}\n")
    assert broken.status_code == 422 and "nothing was imported" in broken.text
    assert _statement(client, "t_bad") is None

"""Sign-in, worklist and access rules of the console, over an in-process client."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect

from agent_console.app import create_app
from agent_console.demo_data import DEMO_PASSWORD
from agent_console.settings import Settings


@pytest.fixture(scope="module")
def app_client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    settings = Settings(data_dir=tmp_path_factory.mktemp("console"), demo=True)
    with TestClient(create_app(settings)) as client:
        yield client


def csrf_of(html: str) -> str:
    match = re.search(r'name="csrf" value="([^"]+)"', html) or re.search(
        r'"X-CSRF-Token": "([^"]+)"', html
    )
    assert match, "page carries a CSRF token"
    return match.group(1)


def sign_in(client: TestClient, username: str, password: str = DEMO_PASSWORD) -> None:
    client.cookies.clear()
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )
    assert response.status_code == 303


def case_ids(html: str) -> dict[str, int]:
    return {ref: int(cid) for cid, ref in re.findall(r'href="/cases/(\d+)">([^<]+)<', html)}


def test_anonymous_visitors_are_sent_to_sign_in(app_client: TestClient) -> None:
    app_client.cookies.clear()
    response = app_client.get("/worklist", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


def test_htmx_requests_without_a_session_get_an_hx_redirect(app_client: TestClient) -> None:
    app_client.cookies.clear()
    response = app_client.get("/worklist", headers={"HX-Request": "true"})
    assert response.status_code == 401 and response.headers["HX-Redirect"] == "/login"


def test_wrong_password_is_refused_with_a_message(app_client: TestClient) -> None:
    app_client.cookies.clear()
    token = csrf_of(app_client.get("/login").text)
    response = app_client.post(
        "/login", data={"username": "alice", "password": "nope", "csrf": token}
    )
    assert response.status_code == 401
    assert "Wrong username or password." in response.text


def test_sign_in_without_csrf_token_is_rejected(app_client: TestClient) -> None:
    app_client.cookies.clear()
    app_client.get("/login")
    response = app_client.post("/login", data={"username": "alice", "password": DEMO_PASSWORD})
    assert response.status_code == 403


def test_collectors_worklists_do_not_overlap_and_supervisor_sees_all(
    app_client: TestClient,
) -> None:
    sign_in(app_client, "alice")
    alice = case_ids(app_client.get("/worklist").text)
    sign_in(app_client, "bob")
    bob = case_ids(app_client.get("/worklist").text)
    sign_in(app_client, "sara")
    everyone = case_ids(app_client.get("/worklist").text)
    assert "NW-100231" in alice and "NW-100231" not in bob
    assert alice and bob and not set(alice) & set(bob)
    assert set(alice) | set(bob) < set(everyone)  # unassigned cases are seen by the supervisor only


def test_collector_cannot_open_another_collectors_case(app_client: TestClient) -> None:
    sign_in(app_client, "alice")
    johns_case = case_ids(app_client.get("/worklist").text)["NW-100231"]
    sign_in(app_client, "bob")
    assert app_client.get(f"/cases/{johns_case}").status_code == 404


def test_case_file_shows_balance_and_masks_pii(app_client: TestClient) -> None:
    sign_in(app_client, "alice")
    case_id = case_ids(app_client.get("/worklist").text)["NW-100231"]
    page = app_client.get(f"/cases/{case_id}").text
    assert "$4,200.00" in page and "M2" in page
    assert re.search(r"•+\d{4}</dd>", page), "phone shown masked to the last four digits"
    assert "+1 555" not in page


def test_collector_cannot_watch_another_collectors_call(app_client: TestClient) -> None:
    sign_in(app_client, "alice")
    case_id = case_ids(app_client.get("/worklist").text)["NW-100231"]
    page = app_client.get(f"/cases/{case_id}").text
    started = app_client.post(
        f"/cases/{case_id}/calls/simulate",
        headers={"X-CSRF-Token": csrf_of(page)},
        follow_redirects=False,
    )
    call_url = started.headers["location"]
    assert app_client.get(call_url).status_code == 200
    with app_client.websocket_connect(f"{call_url}/live") as ws:
        snapshot = ws.receive_text()
    assert 'id="transcript"' in snapshot and 'id="warning-banner"' in snapshot
    assert "Press “Simulate call”" not in snapshot, "a live call does not invite starting one"
    sign_in(app_client, "bob")
    assert app_client.get(call_url).status_code == 404
    with (
        pytest.raises(WebSocketDisconnect) as refused,
        app_client.websocket_connect(f"{call_url}/live") as ws,
    ):
        ws.receive_text()
    assert refused.value.code == 1008


def test_starting_a_call_needs_the_csrf_token(app_client: TestClient) -> None:
    sign_in(app_client, "alice")
    case_id = case_ids(app_client.get("/worklist").text)["NW-100231"]
    assert app_client.post(f"/cases/{case_id}/calls/simulate").status_code == 403


def test_static_htmx_is_served_locally(app_client: TestClient) -> None:
    assert app_client.get("/static/vendor/htmx-2.0.11.min.js").status_code == 200
    assert app_client.get("/static/vendor/htmx-ext-ws-2.0.4.min.js").status_code == 200


def test_qa_reviewers_cannot_start_calls(app_client: TestClient) -> None:
    sign_in(app_client, "quinn")
    case_id = case_ids(app_client.get("/worklist").text)["NW-100231"]
    page = app_client.get(f"/cases/{case_id}").text
    assert 'data-testid="simulate-call"' not in page
    response = app_client.post(
        f"/cases/{case_id}/calls/simulate", headers={"X-CSRF-Token": csrf_of(page)}
    )
    assert response.status_code == 403

"""Who may open /v1/stream: no foreign browser pages, and token holders when a token is set."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient
from starlette.websockets import WebSocketDisconnect


@pytest.fixture
def guarded_client(fake_client: TestClient) -> TestClient:
    fake_client.app.state.transcription_token = "s3cret"  # type: ignore[attr-defined]
    return fake_client


def refused(client: TestClient, url: str, **headers: str) -> dict[str, object]:
    with client.websocket_connect(url, headers=headers) as ws:
        event = ws.receive_json()
        with pytest.raises(WebSocketDisconnect) as closed:
            ws.receive_json()
    assert closed.value.code == 1008
    return event


def test_a_foreign_browser_page_is_refused(fake_client: TestClient) -> None:
    event = refused(fake_client, "/v1/stream", origin="http://evil.example")
    assert event["code"] == "forbidden_origin"


def test_clients_without_origin_are_served(fake_client: TestClient) -> None:
    with fake_client.websocket_connect("/v1/stream") as ws:
        assert ws.receive_json()["type"] == "ready"


def test_token_is_required_when_configured(guarded_client: TestClient) -> None:
    assert refused(guarded_client, "/v1/stream")["code"] == "unauthorized"
    assert (
        refused(guarded_client, "/v1/stream", authorization="Bearer wrong")["code"]
        == "unauthorized"
    )
    with guarded_client.websocket_connect(
        "/v1/stream", headers={"authorization": "Bearer s3cret"}
    ) as ws:
        assert ws.receive_json()["type"] == "ready"
    with guarded_client.websocket_connect("/v1/stream?token=s3cret") as ws:
        assert ws.receive_json()["type"] == "ready"

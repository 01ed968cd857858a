"""A server killed mid-call loses no committed transcript segment."""

from __future__ import annotations

import re
import time

import httpx
import pytest
from sqlalchemy import create_engine, text

from tests.e2e.conftest import Server, sign_in

pytestmark = pytest.mark.model


def _segments(server: Server, call_id: int) -> list[str]:
    engine = create_engine(f"sqlite:///{server.data_dir / 'parley.db'}")
    with engine.connect() as conn:
        rows = conn.execute(
            text("select text from transcript_segments where call_id = :c order by start"),
            {"c": call_id},
        ).all()
    engine.dispose()
    return [r.text for r in rows]


def test_segments_survive_a_server_killed_mid_call(server: Server) -> None:
    with httpx.Client(base_url=server.url) as client:
        sign_in(client, "alice")
        worklist = client.get("/worklist").text
        case_id = re.search(r'href="/cases/(\d+)">NW-100231<', worklist)
        assert case_id
        page = client.get(f"/cases/{case_id.group(1)}").text
        token = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
        assert token
        started = client.post(
            f"/cases/{case_id.group(1)}/calls/simulate", headers={"X-CSRF-Token": token.group(1)}
        )
        assert started.status_code == 303
        call_id = int(started.headers["location"].rsplit("/", 1)[1])

    deadline = time.monotonic() + 90
    while len(_segments(server, call_id)) < 2:
        assert time.monotonic() < deadline, f"no segments were committed:\n{server.log()}"
        time.sleep(0.25)
    server.kill()
    kept = _segments(server, call_id)

    server.start()
    assert _segments(server, call_id) == kept
    with httpx.Client(base_url=server.url) as client:
        sign_in(client, "alice")
        page = client.get(f"/calls/{call_id}").text
    assert "Call interrupted" in page
    for segment in kept:
        assert segment.replace("'", "&#39;").replace('"', "&#34;") in page

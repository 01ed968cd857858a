"""Prints how fast a simulated call reaches the console (issue 2's figures).

Runs Parley in-process on a free local port with demo data in a temporary folder, signs in
as the demo collector, presses "Simulate call" on the demo case and listens to the same
WebSocket the console uses. Prints, in wall-clock seconds from the "Simulate call" request:
the first transcript words (partial and final), the hardship suggestion and the compliance
warning — and, for the last two, how long after the words were spoken in the recording
(turn end times come from agent_console/demo/demo_call_en.json).

Usage: .venv/bin/python benchmarks/live_call_latency.py [--runs N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import re
import socket
import statistics
import tempfile
import time
from pathlib import Path

import httpx
import uvicorn
import websockets

from agent_console.app import create_app
from agent_console.settings import Settings

DEMO_JSON = Path(__file__).resolve().parents[1] / "agent_console" / "demo" / "demo_call_en.json"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _turn_end(turns: list[dict[str, object]], needle: str) -> float:
    for turn in turns:
        if needle in str(turn["text"]).lower():
            return float(str(turn["end"]))
    raise LookupError(needle)


async def _one_call(base: str) -> dict[str, float]:
    async with httpx.AsyncClient(base_url=base) as client:
        form = (await client.get("/login")).text
        token = re.search(r'name="csrf" value="([^"]+)"', form)
        assert token
        await client.post(
            "/login", data={"username": "alice", "password": "parley-demo", "csrf": token.group(1)}
        )
        worklist = (await client.get("/worklist")).text
        case_id = re.search(r'href="/cases/(\d+)">NW-100231<', worklist)
        assert case_id
        page = (await client.get(f"/cases/{case_id.group(1)}")).text
        csrf = re.search(r'"X-CSRF-Token": "([^"]+)"', page)
        assert csrf
        t0 = time.perf_counter()
        response = await client.post(
            f"/cases/{case_id.group(1)}/calls/simulate", headers={"X-CSRF-Token": csrf.group(1)}
        )
        call_id = response.headers["location"].rsplit("/", 1)[1]
        cookie = "; ".join(f"{k}={v}" for k, v in client.cookies.items())
    marks: dict[str, float] = {}
    ws_url = base.replace("http", "ws") + f"/calls/{call_id}/live"
    async with websockets.connect(ws_url, additional_headers={"Cookie": cookie}) as ws:
        async for message in ws:
            now = time.perf_counter() - t0
            html = str(message)
            if (
                re.search(r'class="seg partial (agent|debtor)"', html)
                and "first_partial" not in marks
            ):
                marks["first_partial"] = now
            if "data-segment-id" in html and "first_final" not in marks:
                marks["first_final"] = now
            if 'data-intent="hardship"' in html and "hardship_suggestion" not in marks:
                marks["hardship_suggestion"] = now
            if 'class="banner show"' in html and "warning" not in marks:
                marks["warning"] = now
            if 'data-status="ended"' in html or 'data-status="error"' in html:
                break
    return marks


async def main(runs: int) -> None:
    turns = json.loads(DEMO_JSON.read_text())["turns"]
    hardship_end = _turn_end(turns, "lost my job")
    threat_end = _turn_end(turns, "arrested")
    with tempfile.TemporaryDirectory() as tmp:
        port = _free_port()
        settings = Settings(data_dir=Path(tmp), demo=True, port=port)
        server = uvicorn.Server(
            uvicorn.Config(create_app(settings), port=port, log_level="warning")
        )
        task = asyncio.create_task(server.serve())
        while not server.started:  # noqa: ASYNC110  (uvicorn offers no started event)
            await asyncio.sleep(0.05)
        results = [await _one_call(f"http://127.0.0.1:{port}") for _ in range(runs)]
        server.should_exit = True
        await task

    def show(label: str, key: str, spoken_at: float | None = None) -> None:
        values = [r[key] for r in results if key in r]
        if not values:
            print(f"{label:<44} never arrived")
            return
        line = f"{label:<44} median {statistics.median(values):6.2f} s"
        if spoken_at is not None:
            line += f"   ({statistics.median(values) - spoken_at:+.2f} s after the words ended at {spoken_at:.2f} s)"
        print(line)

    print(f"Live call latency — {runs} simulated call(s) of the demo recording at real-time pace")
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPU cores, model tiny.en int8 on CPU")
    print(f"the recording's first words start at {turns[0]['start']:.2f} s\n")
    show("Simulate call → first words (partial)", "first_partial")
    show("Simulate call → first final segment", "first_final")
    show("Simulate call → hardship suggestion", "hardship_suggestion", hardship_end)
    show("Simulate call → compliance warning", "warning", threat_end)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--runs", type=int, default=1)
    asyncio.run(main(parser.parse_args().runs))

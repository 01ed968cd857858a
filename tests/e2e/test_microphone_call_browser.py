"""A collector streams a call from the browser's microphone: Chromium's fake capture device
plays a real recording into the AudioWorklet, the console transcribes and records it."""

from __future__ import annotations

import io
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ARTIFACTS, CHROMIUM, Server
from transcription.audio import read_wav

pytestmark = [pytest.mark.browser, pytest.mark.model]
CLIP = "deepspeech_new-home-in-the-stars-16k.wav"  # "we must find a new home in the stars"
LIVE_TIMEOUT_MS = 90_000


@pytest.fixture
def microphone(shared_audio: Path, tmp_path: Path) -> Path:
    """The clip and a second of silence, which Chromium loops as its microphone."""
    audio = read_wav(shared_audio / CLIP)
    path = tmp_path / "microphone.wav"
    with wave.open(str(path), "wb") as wav:
        wav.setnchannels(audio.channels)
        wav.setsampwidth(2)
        wav.setframerate(audio.sample_rate)
        wav.writeframes(audio.pcm + b"\0" * 2 * audio.channels * audio.sample_rate)
    return path


@pytest.fixture
def mic_page(microphone: Path) -> Iterator[Any]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: `make test` installs Debian's chromium")
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox",
        "--use-fake-device-for-media-stream",
        "--use-fake-ui-for-media-stream",
        f"--use-file-for-fake-audio-capture={microphone}",
    ]
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=args)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        yield page
        browser.close()


def test_collector_streams_a_call_from_the_microphone(server: Server, mic_page: Any) -> None:
    from playwright.sync_api import expect

    page = mic_page
    page.goto(f"{server.url}/login")
    page.fill("input[name=username]", "alice")
    page.fill("input[name=password]", "parley-demo")
    page.click("button[type=submit]")
    page.get_by_role("link", name="NW-100231").click()
    page.get_by_test_id("start-call").click()
    page.wait_for_url("**/calls/*")
    call_url = page.url
    expect(page.locator("#call-status")).to_contain_text("waiting for its audio")

    page.get_by_test_id("start-mic").click()
    expect(page.get_by_test_id("mic-status")).to_have_text("Streaming your microphone.")
    expect(page.locator("#call-status")).to_have_attribute("data-status", "live")
    expect(page.get_by_test_id("audio-waiting")).to_be_hidden()
    transcript = page.get_by_test_id("transcript")
    expect(transcript).to_contain_text("home in the stars", timeout=LIVE_TIMEOUT_MS)
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "console-microphone.png"), full_page=True)

    page.get_by_test_id("stop-mic").click()
    expect(page.get_by_test_id("mic-status")).to_have_text("Call ended.", timeout=30_000)
    recording = page.request.get(f"{call_url}/recording")
    assert recording.ok
    with wave.open(io.BytesIO(recording.body()), "rb") as wav:
        assert (wav.getnchannels(), wav.getframerate(), wav.getsampwidth()) == (1, 16000, 2)
        assert wav.getnframes() >= 3 * 16000, "the seconds streamed are in the recording"
    page.reload()
    expect(page.locator("#call-status")).to_have_text("Call ended.")
    expect(transcript).to_contain_text("home in the stars")

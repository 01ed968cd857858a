"""POST /v1/audio/transcriptions, driven by the official OpenAI client as its users would."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import openai
import opencc
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from openai import OpenAI

from transcription.backend import FasterWhisperBackend
from transcription.model_store import ModelPool
from transcription.openai_api import ERROR_STATUS, FORM_OVERHEAD_BYTES
from transcription.streaming import Backend

DOC = Path(__file__).resolve().parents[2] / "docs" / "openai-api.md"
ENGLISH = "deepspeech_LDC93S1.wav"  # She had your dark suit in greasy wash water all year.
# tiny.en hears "dog suit and", so English checks stick to the words every model gets.
CHINESE = "wenet_aishell-BAC009S0724W0121.wav"  # 广州市房地产中介协会分析


def client_for(http: TestClient, api_key: str = "not-checked") -> OpenAI:
    """The SDK as a user configures it for a local server, over the in-process app."""
    return OpenAI(api_key=api_key, base_url="http://testserver/v1", http_client=http, max_retries=0)


@pytest.fixture
def whisper(tx_app: FastAPI) -> Iterator[OpenAI]:
    with TestClient(tx_app) as http:
        yield client_for(http)


@pytest.fixture
def fake_openai(fake_client: TestClient) -> OpenAI:
    """Requests that fail before any model runs."""
    return client_for(fake_client)


def error_of(exc: pytest.ExceptionInfo[openai.APIStatusError]) -> tuple[int, str | None, Any]:
    return exc.value.status_code, exc.value.code, exc.value.param


@pytest.mark.model
def test_json_is_the_default_and_any_model_name_is_accepted(
    whisper: OpenAI, shared_audio: Path
) -> None:
    result = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH, model="gpt-4o-transcribe", language="en"
    )
    assert result.text.startswith("She had your") and "greasy wash water" in result.text


@pytest.mark.model
def test_text_format_is_the_bare_transcript(whisper: OpenAI, shared_audio: Path) -> None:
    text = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH, model="whisper-1", language="en", response_format="text"
    )
    assert isinstance(text, str)
    assert text.lower().startswith("she had your") and text.endswith("year.\n")


@pytest.mark.model
def test_verbose_json_reports_language_duration_segments_and_words(
    whisper: OpenAI, shared_audio: Path
) -> None:
    result = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH,
        model="whisper-1",
        language="en",
        response_format="verbose_json",
        timestamp_granularities=["word", "segment"],
        temperature=0.0,
    )
    assert result.language == "en" and result.duration == pytest.approx(2.925, abs=0.01)
    assert result.segments and result.segments[0].id == 0
    assert "greasy wash water" in result.segments[0].text.lower()
    words = result.words or []
    assert [w.word.lower() for w in words][:3] == ["she", "had", "your"]
    starts, ends = [w.start for w in words], [w.end for w in words]
    assert starts == sorted(starts) and ends == sorted(ends) and starts[0] < starts[-1]
    assert all(w.start <= w.end <= result.duration for w in words)


@pytest.mark.model
def test_word_granularity_alone_leaves_out_segments(whisper: OpenAI, shared_audio: Path) -> None:
    result = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH,
        model="whisper-1",
        language="en",
        response_format="verbose_json",
        timestamp_granularities=["word"],
    )
    assert result.segments is None and result.words
    plain = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH,
        model="whisper-1",
        language="en",
        response_format="verbose_json",
    )
    assert plain.words is None and plain.segments


@pytest.mark.model
def test_subtitles_in_srt_and_vtt(whisper: OpenAI, shared_audio: Path) -> None:
    srt = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH, model="whisper-1", language="en", response_format="srt"
    )
    vtt = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH, model="whisper-1", language="en", response_format="vtt"
    )
    assert re.match(r"1\n00:00:0\d,\d{3} --> 00:00:0\d,\d{3}\n", srt)
    assert re.match(r"WEBVTT\n\n00:00:0\d\.\d{3} --> 00:00:0\d\.\d{3}\n", vtt)
    assert "greasy" in srt.lower() and "greasy" in vtt.lower()


@pytest.mark.model
def test_chinese_comes_back_in_simplified_script(whisper: OpenAI, shared_audio: Path) -> None:
    text = whisper.audio.transcriptions.create(
        file=shared_audio / CHINESE, model="whisper-1", language="zh"
    ).text
    assert "广州" in text and "协会" in text
    assert opencc.OpenCC("t2s").convert(text) == text


@pytest.mark.model
def test_automatic_detection_reports_the_language_it_heard(
    whisper: OpenAI, shared_audio: Path
) -> None:
    result = whisper.audio.transcriptions.create(
        file=shared_audio / CHINESE, model="whisper-1", response_format="verbose_json"
    )
    assert result.language == "zh" and "广州" in result.text


@pytest.mark.model
def test_the_prompt_reaches_whisper(
    whisper: OpenAI,
    tx_pool: ModelPool[Backend],
    shared_audio: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    tiny = tx_pool("en")
    assert isinstance(tiny, FasterWhisperBackend)
    real = tiny.transcribe_long
    asked: list[tuple[str | None, str | None]] = []

    def spy(audio: Any, *, language: str | None, prompt: str | None = None) -> Any:
        asked.append((language, prompt))
        return real(audio, language=language, prompt=prompt)

    monkeypatch.setattr(tiny, "transcribe_long", spy)
    result = whisper.audio.transcriptions.create(
        file=shared_audio / ENGLISH, model="whisper-1", language="en", prompt="Greasy wash water."
    )
    assert asked == [("en", "Greasy wash water.")] and "greasy" in result.text.lower()


@pytest.mark.model
def test_a_token_protected_service_takes_the_token_as_api_key(
    tx_own_app: FastAPI, shared_audio: Path
) -> None:
    tx_own_app.state.transcription_token = "s3cret"
    with TestClient(tx_own_app) as http:
        with pytest.raises(openai.AuthenticationError) as refused:
            client_for(http, api_key="wrong").audio.transcriptions.create(
                file=shared_audio / ENGLISH, model="whisper-1"
            )
        result = client_for(http, api_key="s3cret").audio.transcriptions.create(
            file=shared_audio / ENGLISH, model="whisper-1", language="en"
        )
    assert error_of(refused) == (401, "unauthorized", None)
    assert refused.value.response.headers["www-authenticate"] == "Bearer"
    assert "greasy" in result.text.lower()


def test_a_missing_token_is_refused_before_the_upload_is_read(
    fake_openai: OpenAI, fake_client: TestClient
) -> None:
    fake_client.app.state.transcription_token = "s3cret"  # type: ignore[attr-defined]
    with pytest.raises(openai.AuthenticationError) as refused:
        fake_openai.audio.transcriptions.create(file=("a.wav", b"RIFF"), model="whisper-1")
    assert refused.value.body == {
        "message": "a valid transcription token is required",
        "type": "invalid_request_error",
        "param": None,
        "code": "unauthorized",
    }


def test_a_page_of_another_site_is_refused(fake_openai: OpenAI) -> None:
    with pytest.raises(openai.PermissionDeniedError) as refused:
        fake_openai.audio.transcriptions.create(
            file=("a.wav", b"RIFF"),
            model="whisper-1",
            extra_headers={"Origin": "http://evil.example"},
        )
    assert error_of(refused) == (403, "forbidden_origin", None)


def test_a_file_that_is_not_audio_is_a_bad_request(fake_openai: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        fake_openai.audio.transcriptions.create(
            file=("notes.wav", b"this is a text file, not audio"), model="whisper-1"
        )
    assert error_of(refused) == (400, "invalid_audio", "file")


def test_an_empty_file_is_a_bad_request(fake_openai: OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as refused:
        fake_openai.audio.transcriptions.create(file=("empty.wav", b""), model="whisper-1")
    assert error_of(refused) == (400, "empty_file", "file")


@pytest.mark.parametrize(
    ("options", "param"),
    [
        ({"response_format": "docx"}, "response_format"),
        ({"language": "fr"}, "language"),
        ({"timestamp_granularities": ["sentence"]}, "timestamp_granularities[]"),
        ({"temperature": 1.5}, "temperature"),
    ],
)
def test_unsupported_options_name_the_parameter(
    fake_openai: OpenAI, shared_audio: Path, options: dict[str, Any], param: str
) -> None:
    create = cast(Any, fake_openai.audio.transcriptions.create)  # values the SDK's types forbid
    with pytest.raises(openai.BadRequestError) as refused:
        create(file=shared_audio / ENGLISH, model="whisper-1", **options)
    assert error_of(refused) == (400, "invalid_value", param)


def test_a_body_that_is_not_a_multipart_form_is_a_bad_request(fake_client: TestClient) -> None:
    response = fake_client.post("/v1/audio/transcriptions", json={"file": "a.wav"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_multipart"


@pytest.mark.parametrize("size", [1001, 100_000], ids=["file", "declared-length"])
def test_a_file_over_the_limit_is_refused(
    fake_openai: OpenAI, fake_client: TestClient, size: int
) -> None:
    fake_client.app.state.transcription_max_upload_bytes = 1000  # type: ignore[attr-defined]
    with pytest.raises(openai.APIStatusError) as refused:
        fake_openai.audio.transcriptions.create(file=("a.wav", bytes(size)), model="whisper-1")
    assert error_of(refused) == (413, "file_too_large", "file")


def test_an_upload_without_length_is_cut_off_at_the_limit(fake_client: TestClient) -> None:
    """A chunked 1 MB body: the route answers 413 and stops reading at the limit."""
    app = fake_client.app
    app.state.transcription_max_upload_bytes = 10_000  # type: ignore[attr-defined]
    head = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\n\r\n'
    pulled = 0
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        nonlocal pulled
        pulled += 1
        body = head if pulled == 1 else bytes(1024) if pulled < 1000 else b"\r\n--b--\r\n"
        return {"type": "http.request", "body": body, "more_body": pulled < 1000}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/v1/audio/transcriptions",
        "raw_path": b"/v1/audio/transcriptions",
        "root_path": "",
        "query_string": b"",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"multipart/form-data; boundary=b"),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }
    asyncio.run(app(scope, receive, send))  # type: ignore[arg-type]
    assert sent[0]["status"] == 413
    assert pulled <= 2 + (10_000 + FORM_OVERHEAD_BYTES) // 1024


def documented_errors() -> dict[str, int]:
    rows = re.findall(r"^\| `([a-z_]+)`\s*\|\s*(\d{3})", DOC.read_text(), re.MULTILINE)
    return {code: int(status) for code, status in rows}


def test_every_error_code_is_documented_with_its_status() -> None:
    assert documented_errors() == ERROR_STATUS


def test_every_form_field_the_service_advertises_is_documented(fake_client: TestClient) -> None:
    operation = fake_client.get("/openapi.json").json()["paths"]["/v1/audio/transcriptions"]
    form = operation["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    text = DOC.read_text()
    assert {"file", "model", "language", "prompt", "timestamp_granularities[]"} <= form[
        "properties"
    ].keys()
    for field in form["properties"]:
        assert f"| `{field}`" in text

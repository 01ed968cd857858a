"""The ``parley`` command line: arguments reach the right command with the right defaults."""

from __future__ import annotations

from typing import Any

import pytest

from agent_console import cli
from agent_console.settings import Settings


def test_transcription_serve_takes_host_and_port() -> None:
    args = cli.build_parser().parse_args(
        ["transcription", "serve", "--host", "0.0.0.0", "--port", "9001"]
    )
    assert args.func is cli.cmd_transcription_serve
    assert (args.host, args.port) == ("0.0.0.0", 9001)


def test_transcription_serve_help_names_gpu_boxes_and_the_console_setting(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.build_parser().parse_args(["transcription", "serve", "--help"])
    help_text = " ".join(capsys.readouterr().out.split())
    assert "GPU box" in help_text and "PARLEY_TRANSCRIPTION_URL" in help_text


class Served:
    """Stands in for uvicorn: records what would have been served where."""

    def __init__(self) -> None:
        self.runs: list[tuple[Any, str, int]] = []

    def __call__(self, app: Any, host: str, port: int) -> None:
        self.runs.append((app, host, port))


def test_transcription_serve_runs_the_standalone_app_on_the_settings_address(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    served = Served()
    monkeypatch.setattr(cli, "_run_server", served)
    args = cli.build_parser().parse_args(["transcription", "serve"])
    assert args.func(args, Settings(host="127.0.0.1", port=8765)) == 0
    [(app, host, port)] = served.runs
    assert (app.title, host, port) == ("Parley transcription", "127.0.0.1", 8765)
    assert capsys.readouterr().err == ""


def test_serving_beyond_localhost_without_a_token_is_warned_about(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(cli, "_run_server", Served())
    args = cli.build_parser().parse_args(["transcription", "serve", "--host", "0.0.0.0"])
    args.func(args, Settings())
    assert "without PARLEY_TRANSCRIPTION_TOKEN" in capsys.readouterr().err
    args.func(args, Settings(transcription_token="s3cret"))
    assert capsys.readouterr().err == ""

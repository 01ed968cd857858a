from pathlib import Path

import pytest
from pydantic import ValidationError

from agent_console.cli import build_parser
from agent_console.settings import Settings

README = Path(__file__).resolve().parents[2] / "README.md"


def test_every_setting_is_documented_in_the_readme() -> None:
    readme = README.read_text()
    for name in Settings.model_fields:
        assert f"`PARLEY_{name.upper()}`" in readme, (
            f"PARLEY_{name.upper()} is missing from the README table"
        )


def test_settings_come_from_parley_environment_variables(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("PARLEY_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("PARLEY_PORT", "9123")
    monkeypatch.setenv("PARLEY_MODEL", "/models/my-whisper")
    settings = Settings()
    assert settings.port == 9123
    assert settings.model == "/models/my-whisper"
    assert settings.resolved_database_url == f"sqlite:///{tmp_path.resolve() / 'parley.db'}"


def test_english_gets_tiny_en_and_every_other_language_base_by_default() -> None:
    assert Settings().models == {"en": "tiny.en", "*": "base"}


def test_models_map_comes_from_json(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PARLEY_MODELS", '{"en": "small.en", "zh": "/models/zh", "*": "small"}')
    assert Settings().models == {"en": "small.en", "zh": "/models/zh", "*": "small"}


@pytest.mark.parametrize(
    ("model", "models"),
    [
        ("/models/my-whisper", {"*": "/models/my-whisper"}),
        ("small.en", {"en": "small.en", "*": "base"}),
    ],
)
def test_a_lone_parley_model_still_chooses_the_models(
    monkeypatch: pytest.MonkeyPatch, model: str, models: dict[str, str]
) -> None:
    monkeypatch.setenv("PARLEY_MODEL", model)
    assert Settings().models == models


def test_parley_model_contradicting_parley_models_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_MODEL", "small")
    monkeypatch.setenv("PARLEY_MODELS", '{"en": "tiny.en", "*": "base"}')
    with pytest.raises(ValidationError, match="unset PARLEY_MODEL"):
        Settings()


def test_an_english_only_model_for_chinese_stops_start_up(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("PARLEY_MODELS", '{"en": "tiny.en", "zh": "tiny.en", "*": "base"}')
    with pytest.raises(ValidationError, match="English-only model and cannot serve 'zh'"):
        Settings()


def test_secret_key_is_generated_once_and_reused(tmp_path: Path) -> None:
    first = Settings(data_dir=tmp_path).resolved_secret_key
    assert len(first) >= 32
    assert Settings(data_dir=tmp_path).resolved_secret_key == first
    assert (tmp_path / "secret_key").stat().st_mode & 0o077 == 0


def test_cli_documents_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["--help"])
    out = capsys.readouterr().out
    for command in ("serve", "db", "demo", "transcription", "transcribe"):
        assert command in out

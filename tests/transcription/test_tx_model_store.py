"""Offline model resolution: bundled tiny.en, base assembled from two packages and verified."""

from __future__ import annotations

from pathlib import Path

import pytest

from transcription import model_store


def test_tiny_en_resolves_to_the_bundled_folder(tmp_path: Path) -> None:
    path = Path(model_store.resolve_model("tiny.en", tmp_path))
    assert {"model.bin", "config.json", "tokenizer.json", "vocabulary.txt"} <= {
        p.name for p in path.iterdir()
    }
    assert not any(tmp_path.iterdir())  # nothing copied


def test_other_names_pass_through_untouched(tmp_path: Path) -> None:
    assert model_store.resolve_model("small", tmp_path) == "small"
    assert model_store.resolve_model("/opt/models/x", tmp_path) == "/opt/models/x"


@pytest.mark.model
def test_base_is_assembled_once_verified_and_reused(tmp_path: Path) -> None:
    folder = Path(model_store.resolve_model("base", tmp_path))
    model = folder / "model.bin"
    assert folder == tmp_path / "base"
    assert model_store.sha256_of(model) == model_store.BASE_SHA256
    assert {"config.json", "tokenizer.json", "vocabulary.txt"} <= {p.name for p in folder.iterdir()}
    assert not list(folder.glob(".*.tmp"))
    stamp = model.stat().st_mtime_ns

    assert model_store.ensure_base(folder) == folder
    assert model.stat().st_mtime_ns == stamp  # reused, not rewritten


@pytest.mark.model
def test_corrupt_cached_base_is_assembled_again(tmp_path: Path) -> None:
    folder = model_store.ensure_base(tmp_path / "base")
    with (folder / "model.bin").open("r+b") as file:
        file.seek(1000)
        file.write(b"garbage")
    model_store.ensure_base(folder)
    assert model_store.sha256_of(folder / "model.bin") == model_store.BASE_SHA256


def test_a_bad_assembly_never_replaces_the_target(tmp_path: Path) -> None:
    part = tmp_path / "part"
    part.write_bytes(b"not a model")
    target = tmp_path / "model.bin"
    target.write_bytes(b"previous")
    with pytest.raises(model_store.ModelStoreError, match="SHA-256"):
        model_store._assemble([part], target)
    assert target.read_bytes() == b"previous"
    assert {p.name for p in tmp_path.iterdir()} == {"part", "model.bin"}  # no temp left

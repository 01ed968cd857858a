"""Model per language from the map, loaded once; offline resolution of the bundled weights."""

from __future__ import annotations

import threading
from dataclasses import dataclass
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


@dataclass(frozen=True)
class FakeModel:
    name: str


class Loader:
    """Records every load; stands in for loading Whisper weights."""

    def __init__(self) -> None:
        self.loads: list[str] = []

    def __call__(self, name: str) -> FakeModel:
        self.loads.append(name)
        return FakeModel(name)


def test_each_language_gets_its_mapped_model_and_the_rest_the_fallback() -> None:
    pool = model_store.ModelPool({"en": "small.en", "zh": "medium", "*": "base"}, Loader())
    assert pool.model_for("en") == "small.en"
    assert pool.model_for("zh") == "medium"
    assert pool.model_for("yue") == "base"
    assert pool.model_for(None) == "base"  # automatic detection


def test_a_model_loads_once_and_is_shared_by_every_language_it_serves() -> None:
    load = Loader()
    pool = model_store.ModelPool(model_store.DEFAULT_MODELS, load)
    assert pool("en") is pool("en")
    assert pool("zh") is pool(None) is pool("yue")
    assert pool("en") is not pool("zh")
    assert load.loads == ["tiny.en", "base"]
    assert pool.loaded == ["tiny.en", "base"]


def test_a_failed_load_is_tried_again_on_the_next_call() -> None:
    attempts: list[str] = []

    def flaky(name: str) -> FakeModel:
        attempts.append(name)
        if len(attempts) == 1:
            raise OSError("weights not readable")
        return FakeModel(name)

    pool = model_store.ModelPool({"*": "base"}, flaky)
    with pytest.raises(OSError):
        pool("zh")
    assert pool.loaded == []
    assert pool("zh") == FakeModel("base")
    assert attempts == ["base", "base"]


def test_a_loaded_model_is_served_while_another_one_loads() -> None:
    """Loading ``base`` takes seconds; English calls must not queue behind it."""
    loading, release = threading.Event(), threading.Event()
    released: list[bool] = []

    def load(name: str) -> FakeModel:
        if name == "base":
            loading.set()
            # A bound for the failure case only: a pool that held its lock while loading
            # would keep the English lookup below waiting until this wait gives up.
            released.append(release.wait(timeout=10))
        return FakeModel(name)

    pool = model_store.ModelPool(model_store.DEFAULT_MODELS, load)
    english = pool("en")
    slow = threading.Thread(target=pool, args=("zh",))
    slow.start()
    try:
        assert loading.wait(timeout=10)
        assert pool("en") is english
    finally:
        release.set()
        slow.join()
    assert released == [True]


@pytest.mark.parametrize(
    ("models", "complaint"),
    [
        ({"en": "tiny.en"}, 'needs a "\\*" entry'),
        ({"en": "tiny.en", "*": "tiny.en"}, 'English-only model and cannot serve "\\*"'),
        ({"zh": "small.en", "*": "base"}, "English-only model and cannot serve 'zh'"),
        ({"zh": "/models/distil-small.en/", "*": "base"}, "English-only"),
        ({"English": "tiny.en", "*": "base"}, "ISO 639"),
        ({"zh": " ", "*": "base"}, "empty"),
    ],
)
def test_a_map_that_cannot_serve_its_languages_is_refused(
    models: dict[str, str], complaint: str
) -> None:
    with pytest.raises(ValueError, match=complaint):
        model_store.check_model_map(models)
    with pytest.raises(ValueError, match=complaint):
        model_store.ModelPool(models, Loader())


@pytest.mark.parametrize(
    ("model", "models"),
    [
        ("tiny.en", {"en": "tiny.en", "*": "base"}),
        ("small.en", {"en": "small.en", "*": "base"}),
        ("small", {"*": "small"}),
        ("/models/large-v3", {"*": "/models/large-v3"}),
    ],
)
def test_a_lone_model_setting_keeps_its_old_meaning(model: str, models: dict[str, str]) -> None:
    assert model_store.legacy_model_map(model) == models
    assert model_store.check_model_map(models) == models

"""``parley qa``: the batch contracts, run as a user runs them (a real process, a real
SQLite file under a fresh data directory)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]


def parley(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PARLEY_DATA_DIR": str(data_dir)}
    return subprocess.run(
        [sys.executable, "-m", "agent_console.cli", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO_ROOT,
        env=env,
        timeout=120,
    )


def jsonl(*records: object) -> str:
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records)


def test_scan_answers_every_line_with_its_id_and_offsets_into_the_text(tmp_path: Path) -> None:
    lines = jsonl(
        {"id": "a1", "lang": "en", "speaker": "agent", "text": "Pay now or you'll go to jail."},
        {"id": "a2", "lang": "en", "speaker": "agent", "text": "I'm not going to call your boss."},
        {"id": "d1", "lang": "en", "speaker": "debtor", "text": "You'll go to jail, you scumbag!"},
        {"id": "z1", "lang": "zh", "speaker": "agent", "text": "你不还钱会被判刑的。"},
    )
    done = parley(tmp_path, "qa", "scan", "-", stdin=lines)
    assert done.returncode == 0, done.stderr
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert [o["id"] for o in out] == ["a1", "a2", "d1", "z1"]
    [flag] = out[0]["flags"]
    assert flag["category"] == "false_legal" and flag["severity"] and flag["rule"]
    text = "Pay now or you'll go to jail."
    assert text[flag["start"] : flag["end"]] == flag["evidence"]
    assert out[1]["flags"] == [] and out[2]["flags"] == []
    assert {f["category"] for f in out[3]["flags"]} == {"false_legal"}


def test_a_broken_line_gets_an_error_line_and_the_rest_are_still_answered(
    tmp_path: Path,
) -> None:
    lines = (
        jsonl({"id": 1, "lang": "en", "speaker": "agent", "text": "You scumbag."})
        + "{not json\n\n"
        + jsonl(
            {"id": 3, "lang": "fr", "speaker": "agent", "text": "x"},
            {"id": 4, "lang": "en", "speaker": "agent", "text": "fine"},
        )
    )
    done = parley(tmp_path, "qa", "scan", "-", stdin=lines)
    out = [json.loads(line) for line in done.stdout.splitlines()]
    assert done.returncode == 1 and "2 line(s) refused" in done.stderr
    assert [o["id"] for o in out] == [1, None, 3, 4]
    assert "not JSON" in out[1]["error"] and "'lang'" in out[2]["error"]
    assert out[0]["flags"] and out[3]["flags"] == []


def test_scan_judges_with_an_edited_library_after_import(tmp_path: Path) -> None:
    library = tmp_path / "rules.yaml"
    library.write_text(
        "lists:\n  pets: {en: [goldfish, hamster]}\n"
        "rules:\n"
        "  - {key: pets, category: threat, language: en, severity: low,"
        " phrases: ['take your {pets}']}\n",
        encoding="utf-8",
    )
    line = jsonl({"id": "p", "lang": "en", "speaker": "agent", "text": "We'll take your hamster."})
    assert parley(tmp_path, "qa", "scan", "-", stdin=line).stdout.count('"flags": []') == 1

    dry = parley(tmp_path, "qa", "rules", "import", str(library), "--dry-run")
    assert "1 rule(s) would be added" in dry.stdout
    assert parley(tmp_path, "qa", "scan", "-", stdin=line).stdout.count('"flags": []') == 1

    assert "1 rule(s) were added" in parley(tmp_path, "qa", "rules", "import", str(library)).stdout
    [out] = [
        json.loads(x)
        for x in parley(tmp_path, "qa", "scan", "-", stdin=line).stdout.split("\n")
        if x
    ]
    assert [(f["rule"], f["evidence"]) for f in out["flags"]] == [("pets", "take your hamster")]

    exported = parley(tmp_path, "qa", "rules", "export", "-").stdout
    assert "take your {pets}" in exported and "hamster" in exported


def test_a_broken_library_is_refused_whole(tmp_path: Path) -> None:
    library = tmp_path / "rules.yaml"
    library.write_text(
        "rules:\n  - {key: x, category: rudeness, language: en, phrases: [boo]}\n",
        encoding="utf-8",
    )
    done = parley(tmp_path, "qa", "rules", "import", str(library))
    assert done.returncode == 1 and "rudeness" in done.stderr


@pytest.mark.parametrize("missing", ["nope.jsonl"])
def test_a_missing_input_file_is_named(tmp_path: Path, missing: str) -> None:
    done = parley(tmp_path, "qa", "scan", str(tmp_path / missing))
    assert done.returncode == 2 and missing in done.stderr


def test_calls_reports_the_required_statements_of_a_whole_call(tmp_path: Path) -> None:
    call = {
        "id": "c1",
        "lang": "en",
        "segments": [
            {"speaker": "agent", "text": "This call may be recorded for quality purposes."},
            {"speaker": "debtor", "text": "This is an attempt to collect a debt, right?"},
        ],
    }
    done = parley(tmp_path, "qa", "calls", "-", stdin=jsonl(call))
    [out] = [json.loads(x) for x in done.stdout.splitlines()]
    assert out["id"] == "c1" and out["required"]["recording_notice"] is True
    assert "mini_miranda" in out["missing"]  # the debtor saying it does not count


def test_redact_keeps_amounts_and_dates_and_reports_offsets_into_the_input(
    tmp_path: Path,
) -> None:
    text = "my card is 4111 1111 1111 1111 and I owe $1,250 on March 5"
    done = parley(
        tmp_path, "qa", "redact", "-", stdin=jsonl({"id": "r1", "lang": "en", "text": text})
    )
    [out] = [json.loads(x) for x in done.stdout.splitlines()]
    assert out["text"] == "my card is [CARD_NUMBER] and I owe $1,250 on March 5"
    [entity] = out["entities"]
    assert entity["type"] == "card_number"
    assert text[entity["start"] : entity["end"]] == "4111 1111 1111 1111"

"""``parley qa calls --tenant`` and the statements in ``parley qa rules import|export``, run
as a user runs them (a real process, a real SQLite file under a fresh data directory)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import yaml

from tests.qa_review.test_qa_cli import jsonl, parley

ACME = """
required_statements:
  tenants:
    Acme Bank:
      en:
        mini_miranda: {enabled: false}
        recording_notice: [acme keeps a recording]
        dispute_rights:
          description: Acme asks for it.
          phrases: [you * dispute this debt]
"""

CALL = {
    "id": "c1",
    "lang": "en",
    "segments": [
        {"speaker": "agent", "text": "Am I speaking with John? This call may be recorded."},
        {"speaker": "debtor", "text": "You can dispute this debt, I read."},
    ],
}


def _answer(done: subprocess.CompletedProcess[str]) -> dict[str, object]:
    [line] = [json.loads(x) for x in done.stdout.splitlines()]
    assert isinstance(line, dict)
    return line


def test_a_tenant_needs_a_database_and_the_defaults_need_none(tmp_path: Path) -> None:
    refused = parley(tmp_path, "qa", "calls", "-", "--tenant", "Acme Bank", stdin=jsonl(CALL))
    assert refused.returncode == 2 and "--tenant needs a database" in refused.stderr
    assert refused.stdout == ""
    shipped = parley(tmp_path, "qa", "calls", "-", stdin=jsonl(CALL))
    assert shipped.returncode == 0, shipped.stderr
    assert _answer(shipped)["missing"] == ["mini_miranda"]
    assert not (tmp_path / "parley.db").exists()  # no database was made to answer


def test_calls_checks_a_tenants_statements_from_the_database(tmp_path: Path) -> None:
    library = tmp_path / "acme.yaml"
    library.write_text(ACME, encoding="utf-8")
    imported = parley(tmp_path, "qa", "rules", "import", str(library))
    assert imported.returncode == 0, imported.stderr
    assert "3 required statement(s) were added, 0 updated, 0 unchanged" in imported.stdout

    acme = _answer(parley(tmp_path, "qa", "calls", "-", "--tenant", "Acme Bank", stdin=jsonl(CALL)))
    assert acme["required"] == {
        "identity_check": True,
        "recording_notice": False,  # Acme's own wording, which the agent did not use
        "dispute_rights": False,  # only the debtor said it
    }
    assert acme["missing"] == ["recording_notice", "dispute_rights"]
    others = _answer(parley(tmp_path, "qa", "calls", "-", "--tenant", "Globex", stdin=jsonl(CALL)))
    assert others["missing"] == ["mini_miranda"]
    default = _answer(parley(tmp_path, "qa", "calls", "-", stdin=jsonl(CALL)))
    assert default == others


def test_the_export_carries_the_statements_and_reads_back(tmp_path: Path) -> None:
    library = tmp_path / "acme.yaml"
    library.write_text(ACME, encoding="utf-8")
    assert parley(tmp_path, "qa", "rules", "import", str(library), "--dry-run").returncode == 0
    dry = parley(tmp_path, "qa", "rules", "export", "-").stdout
    assert "Acme Bank" not in dry  # the dry run changed nothing
    parley(tmp_path, "qa", "rules", "import", str(library))
    exported = yaml.safe_load(parley(tmp_path, "qa", "rules", "export", "-").stdout)
    statements = exported["required_statements"]
    assert set(statements["en"]) == {"identity_check", "mini_miranda", "recording_notice"}
    acme = statements["tenants"]["Acme Bank"]["en"]
    assert acme["mini_miranda"] == {"enabled": False}
    assert acme["dispute_rights"] == {
        "description": "Acme asks for it.",
        "phrases": ["you * dispute this debt"],
    }
    again = tmp_path / "again.yaml"
    again.write_text(yaml.safe_dump(exported, allow_unicode=True), encoding="utf-8")
    reimported = parley(tmp_path, "qa", "rules", "import", str(again))
    assert "0 required statement(s) were added, 0 updated, 9 unchanged" in reimported.stdout


def test_a_broken_statement_refuses_the_whole_import(tmp_path: Path) -> None:
    library = tmp_path / "bad.yaml"
    library.write_text("required_statements: {en: {'Bad Key': [hello]}}\n", encoding="utf-8")
    done = parley(tmp_path, "qa", "rules", "import", str(library))
    assert done.returncode == 1 and "slug" in done.stderr

"""The rule editor: who may view and save rules, CSRF, versions with their diff, errors that
keep the lead's input, the test box (unsaved edits, negation) and YAML export/import."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy.orm import Session, sessionmaker

from agent_console.app import create_app
from agent_console.settings import Settings
from qa_review import service as qa_service
from qa_review.engine import RuleLibrary
from qa_review.models import QaPhraseList, QaRule
from qa_review.views import MAX_IMPORT_BYTES, RuleForm, _diff
from tests.agent_console.test_console_views import csrf_of, sign_in


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # A remote transcription URL keeps the model from loading: these pages never need it.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("qa_library"),
        demo=True,
        transcription_url="ws://127.0.0.1:9",
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _factory(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
    return factory


def _rule(client: TestClient, key: str) -> QaRule | None:
    with _factory(client)() as session:
        return qa_service.get_rule(session=session, key=key)


def _token(client: TestClient) -> str:
    return csrf_of(client.get("/qa/library").text)


def _form(key: str, **changes: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "key": key,
        "category": "disclosure",
        "language": "en",
        "severity": "high",
        "description": "Telling the boss about the debt.",
        "enabled": "true",
        "phrases": "call your boss\ntell your manager",
        "exceptions": "",
        "near_phrases": "",
        "near_within": "8",
        "not_near_phrases": "",
        "not_near_within": "5",
        "speakers": "agent",
        "note": "",
    }
    data.update(changes)
    return data


def _create(client: TestClient, key: str, **changes: Any) -> None:
    data = {**_form(key, **changes), "csrf": _token(client)}
    response = client.post("/qa/library/new", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/qa/library/{key}?saved=true"


# --- who may open and change the library ---------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "tess"])
def test_collectors_and_trainers_get_403(client: TestClient, username: str) -> None:
    sign_in(client, "sara")
    _create(client, f"t_forbidden_{username}")
    sign_in(client, username)
    for path in [
        "/qa/library",
        "/qa/library/new",
        f"/qa/library/t_forbidden_{username}",
        "/qa/library/export.yaml",
    ]:
        assert client.get(path).status_code == 403, path
    token = csrf_of(client.get("/worklist").text)
    response = client.post(
        f"/qa/library/t_forbidden_{username}",
        data={**_form(f"t_forbidden_{username}", phrases="changed"), "csrf": token},
    )
    assert response.status_code == 403
    rule = _rule(client, f"t_forbidden_{username}")
    assert rule is not None and rule.version == 1


def test_reviewers_may_view_but_not_save(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_reviewer_view")
    sign_in(client, "quinn")
    page = client.get("/qa/library")
    assert page.status_code == 200 and "t_reviewer_view" in page.text
    assert 'href="/qa/library">Rules</a>' not in page.text  # the nav link is for leads
    assert "New rule" not in page.text
    rule_page = client.get("/qa/library/t_reviewer_view")
    assert rule_page.status_code == 200 and "call your boss" in rule_page.text
    assert 'data-testid="save-rule"' not in rule_page.text
    assert client.get("/qa/library/new").status_code == 403
    token = csrf_of(rule_page.text)
    data = {**_form("t_reviewer_view", phrases="something else"), "csrf": token}
    assert client.post("/qa/library/t_reviewer_view", data=data).status_code == 403
    assert (
        client.post("/qa/library/new", data={**_form("t_rev_new"), "csrf": token}).status_code
        == 403
    )
    assert _rule(client, "t_rev_new") is None
    rule = _rule(client, "t_reviewer_view")
    assert rule is not None and rule.phrases == ["call your boss", "tell your manager"]


def test_supervisors_see_the_rules_link_and_the_filtered_list(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_listed_zh", language="zh", category="harassment", phrases="打爆你的电话")
    page = client.get("/qa/library")
    assert page.status_code == 200
    assert 'href="/qa/library">Rules</a>' in page.text
    assert 'href="/qa/library/new"' in page.text
    filtered = client.get(
        "/qa/library?category=harassment&language=zh", headers={"HX-Request": "true"}
    )
    assert filtered.status_code == 200
    assert filtered.text.lstrip().startswith('<div id="library-results">')  # just the block
    keys = re.findall(r'<tr data-rule="([^"]+)"', filtered.text)
    assert "t_listed_zh" in keys
    assert all(k.startswith("zh_") or k.startswith("t_") for k in keys)
    assert "en_abuse_insult" not in keys


def test_saving_needs_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "sara")
    response = client.post("/qa/library/new", data=_form("t_no_csrf"))
    assert response.status_code == 403
    assert _rule(client, "t_no_csrf") is None


# --- saving, versions and history -----------------------------------------------------------


def test_saving_bumps_the_version_and_history_shows_the_diff(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_versions", note="first cut")
    created = client.get("/qa/library/t_versions?saved=true")
    assert "Saved as version 1" in created.text
    data = {
        **_form("t_versions", phrases="call your boss\ntell your manager\nring your <boss>"),
        "note": "catch ringing",
        "csrf": csrf_of(created.text),
    }
    response = client.post("/qa/library/t_versions", data=data, follow_redirects=False)
    assert response.status_code == 303
    page = client.get(response.headers["location"])
    assert "Saved as version 2" in page.text
    assert 'data-testid="rule-version">v2<' in page.text
    history = page.text.split('data-testid="rule-history"', 1)[1]
    assert '<li data-version="2">' in history and '<li data-version="1">' in history
    assert "catch ringing" in history and "Sara" in history
    assert "<ins>+- ring your &lt;boss&gt;</ins>" in history  # the diff, escaped
    rule = _rule(client, "t_versions")
    assert rule is not None and rule.version == 2
    # Saving the same thing again keeps the version.
    client.post("/qa/library/t_versions", data={**data, "csrf": csrf_of(page.text)})
    rule = _rule(client, "t_versions")
    assert rule is not None and rule.version == 2


def test_the_key_cannot_change_and_new_keys_must_be_new(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_fixed_key")
    token = _token(client)
    data = {**_form("t_other_key", severity="critical"), "csrf": token}
    assert client.post("/qa/library/t_fixed_key", data=data).status_code == 200
    assert _rule(client, "t_other_key") is None
    rule = _rule(client, "t_fixed_key")
    assert rule is not None and rule.severity == "critical"
    duplicate = client.post("/qa/library/new", data={**_form("t_fixed_key"), "csrf": token})
    assert duplicate.status_code == 422 and "exists already" in duplicate.text


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"category": "rudeness"}, "unknown category &#39;rudeness&#39;"),
        ({"phrases": "tell your {nosuchlist}"}, "nosuchlist"),
        ({"phrases": "  \n  "}, "Enter at least one phrase"),
        ({"near_phrases": "debt", "near_within": "soon"}, "must be a whole number"),
    ],
)
def test_invalid_input_shows_the_error_and_keeps_the_input(
    client: TestClient, changes: dict[str, str], message: str
) -> None:
    sign_in(client, "sara")
    data = {
        **_form("t_invalid", description="Kept <as typed>", **changes),
        "note": "my note",
        "csrf": _token(client),
    }
    response = client.post("/qa/library/new", data=data)
    assert response.status_code == 422
    error = re.search(r'data-testid="rule-error">([^<]*)<', response.text)
    assert error and message in error.group(1)
    assert "Kept &lt;as typed&gt;" in response.text
    assert 'value="my note"' in response.text
    assert 'name="key" value="t_invalid"' in response.text
    assert _rule(client, "t_invalid") is None


def test_an_invalid_edit_of_an_existing_rule_changes_nothing(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_invalid_edit")
    data = {**_form("t_invalid_edit", phrases="ring your {nosuchlist}"), "csrf": _token(client)}
    response = client.post("/qa/library/t_invalid_edit", data=data)
    assert response.status_code == 422
    assert "ring your {nosuchlist}" in response.text
    rule = _rule(client, "t_invalid_edit")
    assert rule is not None and rule.version == 1 and "call your boss" in rule.phrases


def test_unknown_rules_are_404(client: TestClient) -> None:
    sign_in(client, "sara")
    assert client.get("/qa/library/t_no_such_rule").status_code == 404
    data = {**_form("t_no_such_rule"), "csrf": _token(client)}
    assert client.post("/qa/library/t_no_such_rule", data=data).status_code == 404


# --- the test box ----------------------------------------------------------------------------


def _try(client: TestClient, utterance: str, speaker: str = "agent", **changes: Any) -> str:
    data = {
        **_form("t_unsaved", **changes),
        "utterance": utterance,
        "test_speaker": speaker,
        "csrf": _token(client),
    }
    response = client.post("/qa/library/test", data=data, headers={"HX-Request": "true"})
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="test-result"')
    return response.text


def test_the_test_box_judges_the_unsaved_rule(client: TestClient) -> None:
    sign_in(client, "sara")
    phrases = "send the repo <man>\ncall your boss"
    hit = _try(client, "<b>OK</b> we will send the repo man today", phrases=phrases)
    assert "<mark>send the repo man</mark>" in hit
    assert "&lt;b&gt;OK&lt;/b&gt; we will " in hit  # the utterance is escaped
    negated = _try(client, "We will not send the repo man today.", phrases=phrases)
    assert 'data-testid="no-hit"' in negated
    debtor = _try(client, "Send the repo man, I dare you.", speaker="debtor", phrases=phrases)
    assert 'data-testid="no-hit"' in debtor
    assert _rule(client, "t_unsaved") is None  # nothing was saved


def test_the_test_box_uses_exceptions_and_shows_errors(client: TestClient) -> None:
    sign_in(client, "sara")
    excused = _try(client, "We may call your boss if you ask us to.", exceptions="if you ask us to")
    assert 'data-testid="no-hit"' in excused
    broken = _try(client, "call your boss", phrases="tell your {nosuchlist}")
    assert 'class="error"' in broken and "nosuchlist" in broken


def test_reviewers_may_use_the_test_box(client: TestClient) -> None:
    sign_in(client, "quinn")
    assert "<mark>call your boss</mark>" in _try(client, "I will call your boss.")


def test_the_test_box_needs_the_csrf_token(client: TestClient) -> None:
    sign_in(client, "sara")
    data = {**_form("t_unsaved"), "utterance": "call your boss", "test_speaker": "agent"}
    assert client.post("/qa/library/test", data=data).status_code == 403


# --- export and import -------------------------------------------------------------------------


def _import(client: TestClient, content: bytes) -> Any:
    return client.post(
        "/qa/library/import",
        data={"csrf": _token(client)},
        files={"file": ("rules.yaml", content, "application/yaml")},
    )


def test_export_then_import_round_trip(client: TestClient) -> None:
    sign_in(client, "sara")
    _create(client, "t_round_trip")
    exported = client.get("/qa/library/export.yaml")
    assert exported.status_code == 200
    assert exported.headers["content-disposition"].startswith("attachment;")
    library = RuleLibrary.from_yaml(exported.text)
    assert "t_round_trip" in {rule.key for rule in library.rules}
    # Change the rule, then import the export: the rule comes back as it was, as a new version.
    changed = {**_form("t_round_trip", phrases="something else"), "csrf": _token(client)}
    client.post("/qa/library/t_round_trip", data=changed)
    response = _import(client, exported.content)
    assert response.status_code == 200, response.text
    result = re.search(r'data-testid="import-result">([^<]*)<', response.text)
    assert result and result.group(1).startswith("0 rule(s) were added, 1 updated,")
    rule = _rule(client, "t_round_trip")
    assert rule is not None and rule.version == 3
    assert rule.phrases == ["call your boss", "tell your manager"]


def test_an_oversized_import_is_refused(client: TestClient) -> None:
    sign_in(client, "sara")
    padding = b"# " + b"x" * MAX_IMPORT_BYTES + b"\n"
    content = (
        padding + b"rules:\n  - {key: t_too_big, category: abuse, language: en, phrases: [x]}\n"
    )
    response = _import(client, content)
    assert response.status_code == 422
    assert "larger than 1 MB" in response.text
    assert _rule(client, "t_too_big") is None


def test_an_invalid_import_writes_nothing(client: TestClient) -> None:
    sign_in(client, "sara")
    content = (
        b"rules:\n"
        b"  - {key: t_import_ok, category: abuse, language: en, phrases: [you muppet]}\n"
        b"  - {key: t_import_bad, category: rudeness, language: en, phrases: [x]}\n"
    )
    response = _import(client, content)
    assert response.status_code == 422
    error = re.search(r'data-testid="import-error" data-import-error >([^<]*)<', response.text)
    assert error and "rudeness" in error.group(1) and "nothing was imported" in error.group(1)
    assert _rule(client, "t_import_ok") is None
    not_yaml = _import(client, b"rules: [unclosed\n")
    assert not_yaml.status_code == 422 and "not valid YAML" in not_yaml.text


def test_reviewers_may_export_but_not_import(client: TestClient) -> None:
    sign_in(client, "quinn")
    assert client.get("/qa/library/export.yaml").status_code == 200
    content = b"rules:\n  - {key: t_by_reviewer, category: abuse, language: en, phrases: [x y]}\n"
    assert _import(client, content).status_code == 403
    assert _rule(client, "t_by_reviewer") is None


# --- phrase lists ----------------------------------------------------------------------------


def _list(client: TestClient, name: str) -> QaPhraseList | None:
    with _factory(client)() as session:
        return qa_service.get_list(session=session, name=name)


def _list_form(name: str, en: str = "", zh: str = "") -> dict[str, str]:
    return {"name": name, "entries_en": en, "entries_zh": zh}


def _create_list(client: TestClient, name: str, en: str = "", zh: str = "") -> None:
    data = {**_list_form(name, en, zh), "csrf": _token(client)}
    response = client.post("/qa/library/lists/new", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == f"/qa/library/lists/{name}?saved=true"


def test_the_library_shows_each_list_its_entries_and_the_rules_naming_it(
    client: TestClient,
) -> None:
    sign_in(client, "sara")
    _create_list(client, "t_shown", en="landlord\nneighbour", zh="房东")
    _create(client, "t_shown_rule", phrases="tell your {t_shown}")
    page = client.get("/qa/library")
    usage = {
        u.phrase_list.name: u
        for u in page.context["phrase_lists"]  # type: ignore[attr-defined]
    }
    assert [r.key for r in usage["t_shown"].rules] == ["t_shown_rule"]
    assert "third_party" in usage, "the starter lists are there too"
    row = re.search(r'<tr data-list="t_shown">(.*?)</tr>', page.text, re.S)
    assert row, "the list has a row"
    assert 'href="/qa/library/lists/t_shown"' in row.group(1)
    en, zh = re.findall(r'<td data-lang="(?:en|zh)">(.*?)</td>', row.group(1), re.S)
    assert "2 entries" in en and "landlord, neighbour" in en
    assert "1 entry" in zh and "房东" in zh
    assert 'href="/qa/library/t_shown_rule">t_shown_rule</a>' in row.group(1)
    assert 'data-testid="new-list"' in page.text


def test_editing_a_list_gives_each_rule_naming_it_a_new_version(client: TestClient) -> None:
    sign_in(client, "sara")
    _create_list(client, "t_edited", en="landlord")
    _create(client, "t_edited_rule", phrases="tell your {t_edited}")
    created = client.get("/qa/library/lists/t_edited?saved=true")
    assert "Saved as version 1." in created.text
    assert _entries_shown(created.text) == {"en": "landlord", "zh": ""}
    data = {
        **_list_form("t_renamed_ignored", en="landlord\n  roommate  \n\nlandlord"),
        "csrf": csrf_of(created.text),
    }
    response = client.post("/qa/library/lists/t_edited", data=data, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/qa/library/lists/t_edited?saved=true"
    page = client.get(response.headers["location"])
    assert "Saved as version 2." in page.text
    rules = re.search(r'data-testid="list-rules">(.*?)</table>', page.text, re.S)
    assert rules and re.search(
        r'<tr data-rule="t_edited_rule">.*?data-testid="rule-version">v2<', rules.group(1), re.S
    )
    phrase_list = _list(client, "t_edited")
    assert phrase_list is not None and phrase_list.entries == {"en": ["landlord", "roommate"]}
    assert _list(client, "t_renamed_ignored") is None, "the name cannot change"
    rule = _rule(client, "t_edited_rule")
    assert rule is not None and rule.version == 2
    history = client.get("/qa/library/t_edited_rule").text.split('data-testid="rule-history"')[1]
    assert "list {t_edited} changed" in history and "+    - roommate" in history


@pytest.mark.parametrize(
    ("name", "en", "zh", "message"),
    [
        ("two words", "landlord\n<kept & typed>", "", "letters, digits or underscores"),
        ("t_no_entries", " \n ", "", "at least one entry"),
        ("t_braces", "your {boss}\n<kept & typed>", "房东", "has braces"),
        ("new", "<kept & typed>", "", "reserved"),
    ],
)
def test_an_invalid_new_list_shows_the_error_and_keeps_the_input(
    client: TestClient, name: str, en: str, zh: str, message: str
) -> None:
    sign_in(client, "sara")
    data = {**_list_form(name, en, zh), "csrf": _token(client)}
    response = client.post("/qa/library/lists/new", data=data)
    assert response.status_code == 422
    error = re.search(r'data-testid="list-error">([^<]*)<', response.text)
    assert error and message in error.group(1)
    assert f'name="name" value="{name}"' in response.text
    assert _entries_shown(response.text) == {"en": str(escape(en)), "zh": str(escape(zh))}
    assert _list(client, name) is None


def _entries_shown(html: str) -> dict[str, str]:
    """What each language's box holds, as the page writes it (escaped)."""
    boxes = re.findall(r'<textarea name="entries_(\w+)"[^>]*>(.*?)</textarea>', html, re.S)
    return dict(boxes)


def test_a_list_edit_that_would_break_a_rule_changes_nothing(client: TestClient) -> None:
    sign_in(client, "sara")
    _create_list(client, "t_breaking", en="boss", zh="领导")
    _create(client, "t_breaking_zh", language="zh", phrases="告诉你{t_breaking}")
    data = {**_list_form("t_breaking", en="boss\nmanager"), "csrf": _token(client)}
    response = client.post("/qa/library/lists/t_breaking", data=data)
    assert response.status_code == 422
    error = re.search(r'data-testid="list-error">([^<]*)<', response.text)
    assert error and "t_breaking_zh" in error.group(1) and "no zh entries" in error.group(1)
    assert _entries_shown(response.text) == {"en": "boss\nmanager", "zh": ""}, "input kept"
    phrase_list = _list(client, "t_breaking")
    assert phrase_list is not None and phrase_list.version == 1
    assert phrase_list.entries == {"en": ["boss"], "zh": ["领导"]}
    rule = _rule(client, "t_breaking_zh")
    assert rule is not None and rule.version == 1


def test_a_new_list_needs_a_new_name(client: TestClient) -> None:
    sign_in(client, "sara")
    _create_list(client, "t_taken", en="boss")
    data = {**_list_form("t_taken", en="manager"), "csrf": _token(client)}
    response = client.post("/qa/library/lists/new", data=data)
    assert response.status_code == 422 and "exists already" in response.text
    phrase_list = _list(client, "t_taken")
    assert phrase_list is not None and phrase_list.entries == {"en": ["boss"]}


def test_reviewers_see_lists_read_only(client: TestClient) -> None:
    sign_in(client, "sara")
    _create_list(client, "t_read_only", en="boss")
    sign_in(client, "quinn")
    library = client.get("/qa/library")
    assert '<tr data-list="t_read_only">' in library.text
    assert 'data-testid="new-list"' not in library.text
    page = client.get("/qa/library/lists/t_read_only")
    assert page.status_code == 200
    assert 'data-testid="save-list"' not in page.text
    assert re.search(r'<textarea name="entries_en"[^>]*readonly', page.text)
    assert client.get("/qa/library/lists/new").status_code == 403
    token = csrf_of(page.text)
    edit = {**_list_form("t_read_only", en="changed"), "csrf": token}
    assert client.post("/qa/library/lists/t_read_only", data=edit).status_code == 403
    new = {**_list_form("t_by_quinn", en="boss"), "csrf": token}
    assert client.post("/qa/library/lists/new", data=new).status_code == 403
    assert _list(client, "t_by_quinn") is None
    phrase_list = _list(client, "t_read_only")
    assert phrase_list is not None and phrase_list.entries == {"en": ["boss"]}


@pytest.mark.parametrize("username", ["alice", "tess"])
def test_collectors_and_trainers_cannot_open_lists(client: TestClient, username: str) -> None:
    sign_in(client, username)
    assert client.get("/qa/library/lists/third_party").status_code == 403
    assert client.get("/qa/library/lists/new").status_code == 403


def test_list_saves_need_the_csrf_token_and_unknown_lists_are_404(client: TestClient) -> None:
    sign_in(client, "sara")
    response = client.post("/qa/library/lists/new", data=_list_form("t_no_csrf", en="boss"))
    assert response.status_code == 403 and _list(client, "t_no_csrf") is None
    assert client.get("/qa/library/lists/t_no_such_list").status_code == 404
    data = {**_list_form("t_no_such_list", en="boss"), "csrf": _token(client)}
    assert client.post("/qa/library/lists/t_no_such_list", data=data).status_code == 404


# --- the form against the database (SQLite and PostgreSQL) ---------------------------------


def test_form_round_trips_through_save_rule(db: Session) -> None:
    form = RuleForm(
        key="t_form",
        category="false_legal",
        severity="critical",
        phrases="you will be arrested\n\n  we will sue you  ",
        exceptions="only a court can",
        near_phrases="debt\nowe",
        near_within="6",
        not_near_phrases="may",
        not_near_within="3",
        speakers=["agent", "debtor"],
        note="by form",
    )
    rule = qa_service.save_rule(session=db, definition=form.definition(), author=None, note="x")
    assert rule.phrases == ["you will be arrested", "we will sue you"]
    again = RuleForm.from_rule(rule)
    assert again.definition() == form.definition()
    form.phrases += "\nwe will take you to court"
    updated = qa_service.save_rule(session=db, definition=form.definition(), author=None)
    assert updated.version == 2
    newer, older = qa_service.rule_history(session=db, key="t_form")
    assert ("add", "+- we will take you to court") in _diff(older, newer)


def test_library_yaml_round_trip_against_the_database(db: Session) -> None:
    qa_service.seed_starter_rules(session=db)
    text = qa_service.load_library(session=db).to_yaml()
    result = qa_service.import_library(session=db, library=RuleLibrary.from_yaml(text), author=None)
    assert result.added == 0 and result.updated == 0 and result.unchanged > 0

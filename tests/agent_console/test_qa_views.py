"""The QA review pages over an in-process client: who may open them, what they show, the
review post (CSRF, htmx answers), the CSV export and call recordings with Range requests."""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy.orm import Session, sessionmaker

from agent_console.app import create_app
from agent_console.settings import Settings
from case_store import service as case_service
from case_store.database import transaction
from case_store.models import Call
from qa_review import service as qa_service
from qa_review.engine import Hit
from qa_review.models import FlagStatus, QaFlag
from tests.agent_console.test_console_views import csrf_of, sign_in

QA_PAGES = ["/qa", "/qa/rules", "/qa/export.csv"]


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestClient]:
    # A remote transcription URL keeps the model from loading: these pages never need it.
    settings = Settings(
        data_dir=tmp_path_factory.mktemp("qa"), demo=True, transcription_url="ws://127.0.0.1:9"
    )
    with TestClient(create_app(settings)) as test_client:
        yield test_client


def _factory(client: TestClient) -> sessionmaker[Session]:
    factory: sessionmaker[Session] = client.app.state.session_factory  # type: ignore[attr-defined]
    return factory


def _demo_call(client: TestClient, account_ref: str) -> Call:
    with _factory(client)() as session:
        case = case_service.get_case_by_ref(session=session, account_ref=account_ref)
        assert case is not None
        (call,) = [
            c
            for c in case_service.list_calls_for_case(session=session, case_id=case.id)
            if c.source == "demo"
        ]
        return call


def _new_flag(client: TestClient, text: str, evidence: str, account_ref: str = "NW-100587") -> int:
    """A fresh open flag on a new call of one of alice's cases, for tests that change it."""
    with transaction(_factory(client)) as session:
        case = case_service.get_case_by_ref(session=session, account_ref=account_ref)
        assert case is not None and case.collector_id is not None
        call = case_service.start_call(
            session=session,
            case_id=case.id,
            collector_id=case.collector_id,
            source="test",
            language="en",
        )
        segment = case_service.add_segment(
            session=session,
            call_id=call.id,
            channel=0,
            speaker="agent",
            start=3.0,
            end=5.0,
            text=text,
            words=[],
        )
        start = text.index(evidence)
        hit = Hit(
            category="abuse",
            rule_key="en_abuse_insult",
            rule_version=1,
            severity="high",
            start=start,
            end=start + len(evidence),
            evidence=evidence,
        )
        flag = qa_service.record_flag(
            session=session,
            call_id=call.id,
            segment_id=segment.id,
            hit=hit,
            stream_start=3.0,
            stream_end=5.0,
        )
        return flag.id


def _flag(client: TestClient, flag_id: int) -> QaFlag:
    with _factory(client)() as session:
        flag = session.get(QaFlag, flag_id)
        assert flag is not None
        return flag


def _token(client: TestClient) -> str:
    return csrf_of(client.get("/qa").text)


# --- who may open the pages ----------------------------------------------------------------


@pytest.mark.parametrize("username", ["alice", "tess"])
def test_collectors_and_trainers_get_403_on_every_qa_page(
    client: TestClient, username: str
) -> None:
    flag_id = _new_flag(client, "You idiot, pay now.", "You idiot")
    call_id = _flag(client, flag_id).call_id
    sign_in(client, username)
    for path in [*QA_PAGES, f"/qa/flags/{flag_id}", f"/qa/calls/{call_id}"]:
        assert client.get(path).status_code == 403, path
    token = csrf_of(client.get("/worklist").text)
    response = client.post(
        f"/qa/flags/{flag_id}/review",
        data={"decision": "confirm", "csrf": token},
    )
    assert response.status_code == 403
    assert _flag(client, flag_id).status == FlagStatus.OPEN


def test_anonymous_visitors_are_sent_to_sign_in(client: TestClient) -> None:
    client.cookies.clear()
    response = client.get("/qa", follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/login"


@pytest.mark.parametrize("username", ["quinn", "sara"])
def test_reviewers_and_supervisors_see_the_queue_and_its_nav_link(
    client: TestClient, username: str
) -> None:
    sign_in(client, username)
    for path in QA_PAGES:
        assert client.get(path).status_code == 200, path
    page = client.get("/qa").text
    assert '<a href="/qa">QA review</a>' in page
    sign_in(client, "alice")
    assert '<a href="/qa">QA review</a>' not in client.get("/worklist").text


# --- the queue --------------------------------------------------------------------------


def test_demo_queue_shows_open_flags_most_severe_first(client: TestClient) -> None:
    sign_in(client, "quinn")
    response = client.get("/qa?sort=severity")
    queue = response.context["queue"]  # type: ignore[attr-defined]
    assert queue.total >= 4
    assert queue.items[0].flag.evidence == "you will be arrested"
    assert all(item.flag.status == FlagStatus.OPEN for item in queue.items)
    assert "/static/qa.js" in response.text and "“you will be arrested”" in response.text


def test_an_htmx_filter_request_gets_only_the_results(client: TestClient) -> None:
    sign_in(client, "quinn")
    response = client.get(
        "/qa?category=harassment&status=all&sort=newest", headers={"HX-Request": "true"}
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<div id="queue-results">')
    assert "<html" not in response.text
    assert "call you every hour" in response.text
    assert "you will be arrested" not in response.text
    assert "/qa/export.csv?category=harassment&amp;status=all&amp;sort=newest" in response.text


def test_a_history_restore_gets_the_whole_page(client: TestClient) -> None:
    sign_in(client, "quinn")
    response = client.get(
        "/qa", headers={"HX-Request": "true", "HX-History-Restore-Request": "true"}
    )
    assert "<html" in response.text


def test_blank_filter_fields_are_no_filter(client: TestClient) -> None:
    sign_in(client, "quinn")
    blank = client.get("/qa?category=&severity=&collector_id=&date_from=&date_to=&sort=severity")
    plain = client.get("/qa")
    assert blank.status_code == 200
    assert blank.context["queue"].total == plain.context["queue"].total  # type: ignore[attr-defined]


# --- a flag in context ------------------------------------------------------------------


def test_flag_page_marks_the_phrase_and_plays_from_just_before_it(client: TestClient) -> None:
    call = _demo_call(client, "NW-100231")
    sign_in(client, "quinn")
    flag_id = next(
        item.flag.id
        for item in client.get("/qa?status=all").context["queue"].items  # type: ignore[attr-defined]
        if item.call.id == call.id
    )
    page = client.get(f"/qa/flags/{flag_id}").text
    assert (
        'If you don&#39;t pay today, <mark data-testid="flag-evidence">you will be arrested</mark>.'
        in page
    )
    assert "I lost my job last month" in page, "the debtor's turn before it is shown too"
    audio = re.search(r"<audio[^>]*>", page, re.S)
    assert audio and f'src="/calls/{call.id}/recording#t=19.08"' in audio.group(0)
    assert 'data-start="19.08"' in audio.group(0)
    assert "<script>" not in page.split("</head>")[1], "no inline scripts in the body"


def test_flag_page_escapes_transcript_text_around_the_mark(client: TestClient) -> None:
    flag_id = _new_flag(client, "<script>alert(1)</script> you moron & co", "you moron")
    sign_in(client, "quinn")
    page = client.get(f"/qa/flags/{flag_id}").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; <mark" in page
    assert '<mark data-testid="flag-evidence">you moron</mark> &amp; co' in page
    assert "<script>alert" not in page
    assert "No recording was kept for this call" in page


def test_unknown_flags_and_calls_are_404(client: TestClient) -> None:
    sign_in(client, "quinn")
    assert client.get("/qa/flags/999999").status_code == 404
    assert client.get("/qa/calls/999999").status_code == 404


# --- reviewing --------------------------------------------------------------------------


def test_review_without_the_csrf_token_is_refused(client: TestClient) -> None:
    flag_id = _new_flag(client, "Listen, deadbeat.", "deadbeat")
    sign_in(client, "quinn")
    client.get("/qa")
    response = client.post(f"/qa/flags/{flag_id}/review", data={"decision": "confirm"})
    assert response.status_code == 403
    wrong = client.post(
        f"/qa/flags/{flag_id}/review", data={"decision": "confirm"}, headers={"X-CSRF-Token": "x"}
    )
    assert wrong.status_code == 403
    assert _flag(client, flag_id).status == FlagStatus.OPEN


def test_dismissing_from_the_queue_returns_the_updated_row(client: TestClient) -> None:
    flag_id = _new_flag(client, "You loser.", "You loser")
    sign_in(client, "quinn")
    response = client.post(
        f"/qa/flags/{flag_id}/review",
        data={
            "decision": "dismiss",
            "reason": "wrong_context",
            "comment": "Quoting the debtor back.",
            "origin": "queue",
            "queue": "status=open&sort=newest",
        },
        headers={"X-CSRF-Token": _token(client), "HX-Request": "true"},
    )
    assert response.status_code == 200
    row = response.text.strip()
    assert row.startswith(f'<tr id="flag-row-{flag_id}"') and row.endswith("</tr>")
    assert "st-dismissed" in row and "Phrase used in another sense" in row
    assert "by Quinn Harper" in row
    flag = _flag(client, flag_id)
    assert (flag.status, flag.review_reason) == (FlagStatus.DISMISSED, "wrong_context")
    assert flag.review_comment == "Quoting the debtor back."


def test_reviewing_on_the_flag_page_goes_on_to_the_next_flag(client: TestClient) -> None:
    first = _new_flag(client, "You parasite.", "parasite")
    second = _new_flag(client, "Such a freeloader.", "freeloader")
    sign_in(client, "quinn")
    token = _token(client)
    response = client.post(
        f"/qa/flags/{second}/review",
        data={"decision": "confirm", "origin": "detail", "queue": "sort=newest&status=open"},
        headers={"X-CSRF-Token": token, "HX-Request": "true"},
    )
    assert response.status_code == 204
    assert response.headers["HX-Redirect"] == (f"/qa/flags/{first}?status=open&sort=newest"), (
        "newest first: the flag made just before is next"
    )
    plain = client.post(
        f"/qa/flags/{first}/review",
        data={"decision": "confirm", "csrf": token, "queue": "status=open&sort=newest"},
        follow_redirects=False,
    )
    assert plain.status_code == 303 and plain.headers["location"].startswith("/qa")
    assert _flag(client, first).status == FlagStatus.CONFIRMED


def test_a_dismissal_without_a_reason_is_refused_with_a_message(client: TestClient) -> None:
    flag_id = _new_flag(client, "Worthless excuse.", "Worthless")
    sign_in(client, "quinn")
    response = client.post(
        f"/qa/flags/{flag_id}/review",
        data={"decision": "dismiss", "reason": "", "origin": "queue"},
        headers={"X-CSRF-Token": _token(client), "HX-Request": "true"},
    )
    assert response.status_code == 422
    assert response.text == "Pick the reason this flag is dismissed."
    assert _flag(client, flag_id).status == FlagStatus.OPEN


def _review(client: TestClient, flag_id: int, **data: str) -> None:
    response = client.post(
        f"/qa/flags/{flag_id}/review",
        data={"origin": "detail", **data},
        headers={"X-CSRF-Token": _token(client), "HX-Request": "true"},
    )
    assert response.status_code == 204, response.text


def test_flag_page_shows_every_decision_newest_first(client: TestClient) -> None:
    flag_id = _new_flag(client, "Pay up, you bum.", "you bum")
    sign_in(client, "quinn")
    assert 'data-testid="review-history"' not in client.get(f"/qa/flags/{flag_id}").text
    _review(client, flag_id, decision="confirm", comment="Plain insult.")
    sign_in(client, "sara")
    _review(
        client,
        flag_id,
        decision="dismiss",
        reason="wrong_context",
        comment="<b>Bum</b> is the debtor's nickname.",
    )

    page = client.get(f"/qa/flags/{flag_id}")
    reviews = page.context["reviews"]  # type: ignore[attr-defined]
    assert [(e.review.status, e.reviewer.display_name) for e in reviews] == [
        (FlagStatus.DISMISSED, "Sara Okafor"),
        (FlagStatus.CONFIRMED, "Quinn Harper"),
    ]
    history = page.text.split('data-testid="review-history"', 1)[1].split("</ol>", 1)[0]
    dismissed, confirmed = re.findall(r"<li data-review-status=\"(\w+)\">(.*?)</li>", history, re.S)
    assert dismissed[0] == "dismissed" and confirmed[0] == "confirmed"
    assert "Phrase used in another sense" in dismissed[1] and "by Sara Okafor" in dismissed[1]
    assert "&lt;b&gt;Bum&lt;/b&gt; is the debtor&#39;s nickname." in dismissed[1]
    assert 'data-testid="current-decision"' in dismissed[1]
    assert "by Quinn Harper" in confirmed[1] and "Plain insult." in confirmed[1]
    assert "current" not in confirmed[1]
    assert _flag(client, flag_id).status == FlagStatus.DISMISSED


# --- scorecard, rules, export ------------------------------------------------------------


def test_scorecard_and_rule_precision_pages(client: TestClient) -> None:
    call = _demo_call(client, "CA-778012")
    sign_in(client, "quinn")
    card = client.get(f"/qa/calls/{call.id}")
    assert card.status_code == 200
    assert card.context["card"].totals.total == 3  # type: ignore[attr-defined]
    assert "Required statements" in card.text
    rules = client.get("/qa/rules")
    keys = [r.rule_key for r in rules.context["rules"]]  # type: ignore[attr-defined]
    assert "en_false_legal_arrest" in keys and 'data-testid="rule-precision"' in rules.text


def test_export_is_an_attachment_with_formulas_neutralized(client: TestClient) -> None:
    flag_id = _new_flag(client, '=HYPERLINK("http://evil") you idiot', "you idiot")
    sign_in(client, "quinn")
    response = client.get("/qa/export.csv?status=all")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    assert response.headers["content-disposition"].startswith("attachment;")
    rows = list(csv.reader(io.StringIO(response.text.removeprefix("\ufeff"))))
    (row,) = [r for r in rows if r[0] == str(flag_id)]
    assert '\'=HYPERLINK("http://evil") you idiot' in row


# --- recordings -------------------------------------------------------------------------


def test_recording_is_served_to_reviewers_and_the_calls_collector_only(
    client: TestClient,
) -> None:
    call = _demo_call(client, "NW-100231")
    url = f"/calls/{call.id}/recording"
    assert call.recording is not None
    size = Path(call.recording).stat().st_size
    for username in ("quinn", "sara", "alice"):
        sign_in(client, username)
        response = client.get(url)
        assert response.status_code == 200, username
        assert response.headers["content-type"].startswith("audio/")
        assert int(response.headers["content-length"]) == size
    sign_in(client, "bob")
    assert client.get(url).status_code == 404
    client.cookies.clear()
    assert client.get(url, follow_redirects=False).status_code == 303


def test_recording_answers_range_requests_so_the_player_can_seek(client: TestClient) -> None:
    call = _demo_call(client, "NW-100231")
    assert call.recording is not None
    data = Path(call.recording).read_bytes()
    sign_in(client, "quinn")
    response = client.get(f"/calls/{call.id}/recording", headers={"Range": "bytes=1000-1999"})
    assert response.status_code == 206
    assert response.headers["content-range"] == f"bytes 1000-1999/{len(data)}"
    assert response.content == data[1000:2000]
    assert response.headers["accept-ranges"] == "bytes"
    past_end = client.get(
        f"/calls/{call.id}/recording", headers={"Range": f"bytes={len(data) + 10}-"}
    )
    assert past_end.status_code == 416


def test_a_call_without_a_recording_is_404(client: TestClient) -> None:
    call = _demo_call(client, "CA-778012")
    assert call.recording is None
    sign_in(client, "quinn")
    assert client.get(f"/calls/{call.id}/recording").status_code == 404


def test_the_shared_pager_links_both_ways_and_hides_on_one_page() -> None:
    from agent_console.templating import templates

    pager = templates.env.get_template("qa_macros.html").module.pager  # type: ignore[attr-defined]
    middle = str(pager("/qa/statements/missing", "key=mini_miranda", 2, 3, "missing-results"))
    assert 'href="/qa/statements/missing?key=mini_miranda&amp;page=1"' in middle
    assert 'hx-get="/qa/statements/missing?key=mini_miranda&amp;page=3"' in middle
    assert 'hx-target="#missing-results"' in middle
    assert str(pager("/qa", "", 1, 1, "queue-results")).strip() == ""

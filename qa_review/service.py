"""QA rules and flags: every database read and write for the domain.

Rules live in ``qa_rules`` so QA leads can edit them; the starter YAML
(``engine.starter_library``) only seeds keys and lists that are not there yet. Saving a
rule that changed bumps its version and keeps the new version whole in
``qa_rule_versions``; flags record the version that raised them.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, case, func, or_, select, true
from sqlalchemy.orm import Session, aliased, lazyload

from case_store import service as case_service
from case_store.models import Call, Case, Role, TranscriptSegment, User, utcnow
from qa_review.engine import (
    Hit,
    RequiredStatementSpec,
    RuleEngine,
    RuleLibrary,
    RuleSpec,
    StatementResult,
    required_statement_specs,
    resolve_statements,
    spec_from_yaml,
    starter_library,
    statement_index,
)
from qa_review.models import (
    FlagStatus,
    QaCallStatement,
    QaFlag,
    QaFlagReview,
    QaPhraseList,
    QaRequiredStatement,
    QaRule,
    QaRuleVersion,
    ReviewReason,
    Severity,
)
from qa_review.normalize import LANGUAGES
from qa_review.phrases import Lists
from qa_review.schemas import (
    DISMISS_REASONS,
    PAGE_SIZE,
    Decision,
    FlagReviewEntry,
    MissingCall,
    MissingFilters,
    MissingPage,
    PhraseListUsage,
    QueueFilters,
    QueueItem,
    QueuePage,
    QueueSort,
    RulePrecision,
    Scorecard,
    StatusCounts,
)

log = logging.getLogger(__name__)

_CONDITIONS = ("exceptions", "near", "not_near", "speakers")
RESERVED_KEYS = frozenset({"new", "test", "import", "export.yaml"})
"""Path segments of the rule editor (``/qa/library/new`` …), so no rule can be named so."""


# --- rules in the database --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ImportResult:
    added: int = 0
    updated: int = 0
    unchanged: int = 0
    statements_added: int = 0
    statements_updated: int = 0
    statements_unchanged: int = 0


def seed_starter_rules(*, session: Session) -> int:
    """Insert starter rules and lists whose key is not in the database yet, and the default
    required statements (``seed_required_statements``); returns how many rules were added.
    Existing ones are left alone, so a lead's edits survive."""
    seed_required_statements(session=session)
    library = starter_library()
    lists = {row.name for row in session.scalars(select(QaPhraseList))}
    for name, entries in library.lists.items():
        if name not in lists:
            session.add(QaPhraseList(name=name, entries=_entries(entries), updated_at=utcnow()))
    existing = set(session.scalars(select(QaRule.key)))
    added = 0
    for spec in library.rules:
        if spec.key not in existing:
            _add_rule(session, spec, author=None, note="starter library")
            added += 1
    session.flush()
    return added


def load_library(*, session: Session, enabled_only: bool = False) -> RuleLibrary:
    """The database's rules and lists as a library, with every required statement (a
    disabled one too: it waives a default). A rule or statement that no longer validates
    (a list it names was deleted, a hand-edited row) is logged and left out: one bad edit
    must not stop every live call from being judged."""
    lists = {row.name: _entries(row.entries) for row in session.scalars(select(QaPhraseList))}
    query = select(QaRule).order_by(QaRule.key)
    if enabled_only:
        query = query.where(QaRule.enabled.is_(True))
    frozen = {k: {lang: tuple(v) for lang, v in e.items()} for k, e in lists.items()}
    specs: list[RuleSpec] = []
    for row in session.scalars(query):
        try:
            specs.append(_spec_from_row(row))
        except (ValueError, TypeError) as error:
            log.warning("QA rule %s skipped: %s", row.key, error)
    statements = tuple(
        spec
        for row in list_statements(session=session)
        if (spec := _statement_spec_or_none(row)) is not None and _statement_compiles(spec, lists)
    )
    try:
        return RuleLibrary(tuple(specs), frozen, statements)
    except ValueError:  # only now pay for finding the culprits one rule at a time
        return RuleLibrary(tuple(s for s in specs if _compiles(s, lists)), frozen, statements)


def _compiles(spec: RuleSpec, lists: Lists) -> bool:
    try:
        RuleEngine([spec], lists)
    except ValueError as error:
        log.warning("QA rule %s skipped: %s", spec.key, error)
        return False
    return True


def load_engine(*, session: Session) -> RuleEngine:
    """An engine over every enabled rule (see ``load_library``)."""
    return load_library(session=session, enabled_only=True).engine()


def get_rule(*, session: Session, key: str) -> QaRule | None:
    return session.scalar(select(QaRule).where(QaRule.key == key))


def list_rules(*, session: Session) -> list[QaRule]:
    return list(session.scalars(select(QaRule).order_by(QaRule.category, QaRule.key)))


def rule_history(*, session: Session, key: str) -> list[QaRuleVersion]:
    """Every saved version of a rule, newest first."""
    query = (
        select(QaRuleVersion)
        .where(QaRuleVersion.rule_key == key)
        .order_by(QaRuleVersion.version.desc())
    )
    return list(session.scalars(query))


def save_rule(
    *,
    session: Session,
    definition: dict[str, Any],
    author: User | None,
    enabled: bool = True,
    note: str = "",
) -> QaRule:
    """Create or change a rule from its YAML form; raises ``ValueError`` naming what is
    wrong. A rule that did not change keeps its version."""
    spec = spec_from_yaml({k: v for k, v in definition.items() if k != "version"})
    if spec.key in RESERVED_KEYS:
        raise ValueError(f"rule key {spec.key!r} is reserved by the rule pages; choose another")
    lists = {row.name: _entries(row.entries) for row in session.scalars(select(QaPhraseList))}
    RuleEngine([spec], lists)  # unknown {list} and wildcard-only phrases fail here
    row = get_rule(session=session, key=spec.key)
    if row is None:
        return _add_rule(session, spec, author=author, note=note, enabled=enabled)
    if _spec_from_row(row).to_yaml() == spec.to_yaml() and row.enabled == enabled:
        return row
    row.version += 1
    _write(row, spec)
    row.enabled = enabled
    row.updated_at = utcnow()
    _snapshot(session, row, author, note)
    session.flush()
    return row


def save_list(
    *, session: Session, name: str, entries: dict[str, list[str]], author: User | None
) -> QaPhraseList:
    """Create or replace a phrase list. Rules that name it change behaviour with it, so
    each of them gets a new version recording the list as it now reads."""
    cleaned = {lang: [e.strip() for e in values if e.strip()] for lang, values in entries.items()}
    row = get_list(session=session, name=name)
    if row is None:
        row = QaPhraseList(name=name, entries=cleaned, updated_at=utcnow())
        session.add(row)
    elif row.entries != cleaned:
        row.entries, row.version, row.updated_at = cleaned, row.version + 1, utcnow()
        for rule in rules_naming_list(session=session, name=name):
            rule.version += 1
            rule.updated_at = row.updated_at
            _snapshot(session, rule, author, f"list {{{name}}} changed")
    session.flush()
    return row


LIST_NAME = re.compile(r"\w{1,64}")
"""What a rule can write between braces (``phrases._TOKEN`` reads ``{\\w+}``)."""
RESERVED_LIST_NAMES = frozenset({"new"})
"""Path segments of the list editor (``/qa/library/lists/new``)."""
_LIST_REFERENCE = re.compile(r"\{(\w+)\}")


def get_list(*, session: Session, name: str) -> QaPhraseList | None:
    return session.scalar(select(QaPhraseList).where(QaPhraseList.name == name))


def list_lists(*, session: Session) -> list[PhraseListUsage]:
    """Every phrase list by name, each with the rules that name it."""
    rules = list_rules(session=session)
    names = {rule.key: _list_names(rule) for rule in rules}
    return [
        PhraseListUsage(phrase_list=row, rules=[r for r in rules if row.name in names[r.key]])
        for row in session.scalars(select(QaPhraseList).order_by(QaPhraseList.name))
    ]


def rules_naming_list(*, session: Session, name: str) -> list[QaRule]:
    """Rules whose phrases, exceptions or near/not-near phrases name ``{name}``: editing
    the list changes what each of them matches."""
    return [rule for rule in list_rules(session=session) if name in _list_names(rule)]


def edit_list(
    *, session: Session, name: str, entries: dict[str, list[str]], author: User | None
) -> QaPhraseList:
    """Save a list edited by hand (``save_list``), after the checks an import gets from
    validating its whole library; raises ``ValueError`` naming what to fix.

    The name must be writable as ``{name}`` in a rule; there must be at least one entry;
    and every rule naming the list must still compile with it, since a rule left with no
    entries in its language would otherwise drop silently out of live judging.
    """
    if not LIST_NAME.fullmatch(name):
        raise ValueError("A list name is 1 to 64 letters, digits or underscores, no spaces.")
    if name in RESERVED_LIST_NAMES:
        raise ValueError(f"The list name {name!r} is reserved by the list pages; choose another.")
    unknown = sorted(set(entries) - set(LANGUAGES))
    if unknown:
        raise ValueError(f"Unknown language {', '.join(unknown)}; lists hold en and zh entries.")
    cleaned = {
        lang: list(dict.fromkeys(e.strip() for e in values if e.strip()))
        for lang, values in entries.items()
    }
    cleaned = {lang: values for lang, values in cleaned.items() if values}
    if not cleaned:
        raise ValueError("Enter at least one entry (one per line).")
    for values in cleaned.values():
        if braced := [e for e in values if "{" in e or "}" in e]:
            raise ValueError(f"The entry {braced[0]!r} has braces; a list cannot name a list.")
    lists = {row.name: _entries(row.entries) for row in session.scalars(select(QaPhraseList))}
    lists[name] = cleaned
    for rule in rules_naming_list(session=session, name=name):
        try:
            spec = _spec_from_row(rule)
        except (ValueError, TypeError):
            continue  # broken before this edit; load_library already leaves it out
        try:
            RuleEngine([spec], lists)
        except ValueError as error:
            raise ValueError(f"Rule {rule.key} would stop working: {error}.") from None
    return save_list(session=session, name=name, entries=cleaned, author=author)


def _list_names(row: QaRule) -> set[str]:
    """The lists a rule names anywhere the engine expands them."""
    conditions = row.conditions or {}
    texts = [*row.phrases, *(conditions.get("exceptions") or ())]
    for condition in ("near", "not_near"):
        texts += (conditions.get(condition) or {}).get("phrases") or ()
    return {match.group(1) for text in texts for match in _LIST_REFERENCE.finditer(str(text))}


def import_library(*, session: Session, library: RuleLibrary, author: User | None) -> ImportResult:
    """Upsert every list, rule and required statement of ``library`` (a YAML import);
    nothing is deleted. A statement takes the file's ``enabled`` (absent: enabled), since
    waiving a default for a tenant is written that way."""
    for name, entries in library.lists.items():
        save_list(session=session, name=name, entries=_entries(entries), author=author)
    added = updated = unchanged = 0
    for spec in library.rules:
        before = get_rule(session=session, key=spec.key)
        version = before.version if before else None
        row = save_rule(
            session=session,
            definition=spec.to_yaml(),
            author=author,
            enabled=before.enabled if before else True,  # YAML has no switch; keep the lead's
            note="import",
        )
        if version is None:
            added += 1
        elif row.version != version:
            updated += 1
        else:
            unchanged += 1
    counts = {"added": 0, "updated": 0, "unchanged": 0}
    for statement in library.statements:
        key, language, tenant = statement.identity
        stored = get_statement(session=session, key=key, language=language, tenant=tenant)
        version = stored.version if stored else None
        saved = save_statement(
            session=session,
            key=key,
            language=language,
            tenant=tenant,
            phrases=list(statement.phrases),
            description=statement.description,
            enabled=statement.enabled,
        )
        outcome = (
            "added" if version is None else "unchanged" if saved.version == version else "updated"
        )
        counts[outcome] += 1
    return ImportResult(
        added,
        updated,
        unchanged,
        statements_added=counts["added"],
        statements_updated=counts["updated"],
        statements_unchanged=counts["unchanged"],
    )


def _add_rule(
    session: Session, spec: RuleSpec, *, author: User | None, note: str, enabled: bool = True
) -> QaRule:
    row = QaRule(key=spec.key, version=1, enabled=enabled, updated_at=utcnow())
    _write(row, spec)
    session.add(row)
    _snapshot(session, row, author, note)
    session.flush()
    return row


def _write(row: QaRule, spec: RuleSpec) -> None:
    data = spec.to_yaml()
    row.category, row.language, row.severity = spec.category, spec.language, spec.severity
    row.description = spec.description
    row.phrases = list(spec.phrases)
    row.conditions = {k: data[k] for k in _CONDITIONS if k in data}


def _snapshot(session: Session, row: QaRule, author: User | None, note: str) -> None:
    definition = _spec_from_row(row).to_yaml()
    lists = {row.name: row.entries for row in session.scalars(select(QaPhraseList))}
    names = _list_names(row)
    used = {n: e for n, e in lists.items() if n in names}
    if used:
        definition["lists"] = used
    session.add(
        QaRuleVersion(
            rule_key=row.key,
            version=row.version,
            definition=definition,
            enabled=row.enabled,
            author_id=author.id if author else None,
            note=note,
        )
    )


def _spec_from_row(row: QaRule) -> RuleSpec:
    return spec_from_yaml(
        {
            "key": row.key,
            "category": row.category,
            "language": row.language,
            "phrases": row.phrases,
            "severity": row.severity,
            "version": row.version,
            "description": row.description,
            **(row.conditions or {}),
        }
    )


def _entries(entries: Any) -> dict[str, list[str]]:
    return {str(lang): [str(v) for v in values] for lang, values in dict(entries).items()}


# --- required statements ----------------------------------------------------------------
# What every call must contain, per language and tenant (the creditor of the call's case;
# "" is the default for every tenant). A tenant's row replaces the default with the same
# key and language, or waives it (enabled=False), and may add keys of its own. A live call
# resolves them once at its start (statements_for) and stores, when it ends, which were
# said and which were missing (record_call_statements).


def seed_required_statements(*, session: Session) -> int:
    """Insert the shipped statements not in the database yet (by key, language and tenant);
    returns how many were added. Existing rows are left alone, so a lead's edits survive."""
    identity = (QaRequiredStatement.key, QaRequiredStatement.language, QaRequiredStatement.tenant)
    existing = {tuple(row) for row in session.execute(select(*identity))}
    added = 0
    for spec in required_statement_specs():
        if spec.identity not in existing:
            session.add(_statement_row(spec))
            added += 1
    session.flush()
    return added


def list_statements(*, session: Session) -> list[QaRequiredStatement]:
    """Every statement, the defaults first, then tenant by tenant; by language and key."""
    query = select(QaRequiredStatement).order_by(
        QaRequiredStatement.tenant, QaRequiredStatement.language, QaRequiredStatement.key
    )
    return list(session.scalars(query))


def get_statement(
    *, session: Session, key: str, language: str, tenant: str = ""
) -> QaRequiredStatement | None:
    query = select(QaRequiredStatement).where(
        QaRequiredStatement.key == key.strip(),
        QaRequiredStatement.language == language,
        QaRequiredStatement.tenant == _tenant(tenant),
    )
    return session.scalar(query)


def save_statement(
    *,
    session: Session,
    key: str,
    language: str,
    phrases: list[str],
    tenant: str = "",
    description: str = "",
    enabled: bool = True,
) -> QaRequiredStatement:
    """Create or change a statement; raises ``ValueError`` naming what is wrong (a key
    that is not a slug, an unknown language, no phrases while enabled, a phrase that does
    not compile). A save that changes nothing keeps the version; a change bumps it."""
    spec = RequiredStatementSpec(
        key=key,
        language=language,
        phrases=phrases,
        tenant=tenant,
        description=description,
        enabled=enabled,
    )
    statement_index([spec], phrase_lists(session=session))
    row = get_statement(session=session, key=spec.key, language=spec.language, tenant=spec.tenant)
    if row is None:
        row = _statement_row(spec)
        session.add(row)
    elif _statement_spec_or_none(row) != replace(spec, version=row.version):
        _write_statement(row, spec)
        row.version += 1
        row.updated_at = utcnow()
    session.flush()
    return row


def delete_statement(*, session: Session, key: str, language: str, tenant: str) -> bool:
    """Remove a tenant's statement, so the default applies to its calls again (or its own
    key stops being required); False when there was none. A default cannot be deleted
    (seeding would bring a starter one back): disable it instead."""
    if not _tenant(tenant):
        raise ValueError("A default statement cannot be deleted; disable it instead.")
    row = get_statement(session=session, key=key, language=language, tenant=tenant)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def statements_for(
    *, session: Session, language: str | None, tenant: str = "", lists: Lists | None = None
) -> list[RequiredStatementSpec]:
    """The statements a call in ``language`` (None: every language) for ``tenant`` must
    contain, defaults' keys first, each part in key order (``resolve_statements``).

    ``lists`` are the phrase lists statements may name (read from the database when not
    given). A row that no longer validates or compiles is logged and left out, so a
    tenant's broken wording falls back to the default rather than stopping the call.
    Until the starter statements are seeded, the shipped defaults apply.
    """
    tenant = _tenant(tenant)
    query = select(QaRequiredStatement).where(QaRequiredStatement.tenant.in_({"", tenant}))
    rows = list(session.scalars(query.order_by(QaRequiredStatement.id)))
    specs = [spec for row in rows if (spec := _statement_spec_or_none(row)) is not None]
    if not any(row.tenant == "" for row in rows):
        specs = [*(s for s in required_statement_specs() if s.tenant == ""), *specs]
    lists = phrase_lists(session=session) if lists is None else lists
    usable = [spec for spec in specs if _statement_compiles(spec, lists)]
    return resolve_statements(usable, language=language, tenant=tenant)


def list_tenants(*, session: Session) -> list[str]:
    """Creditors on cases and tenants with statements of their own, for the editor."""
    creditors = session.scalars(select(Case.creditor).distinct())
    overridden = session.scalars(select(QaRequiredStatement.tenant).distinct())
    return sorted({_tenant(t) for t in (*creditors, *overridden)} - {""}, key=str.casefold)


def record_call_statements(
    *, session: Session, call_id: int, results: Iterable[StatementResult]
) -> list[QaCallStatement]:
    """Store each required statement of a call as said (its words, segment and stream
    time) or missing, in the order given; recording a call again replaces its rows."""
    existing = {row.key: row for row in list_call_statements(session=session, call_id=call_id)}
    rows = []
    for result in results:
        row = existing.pop(result.key, None) or QaCallStatement(call_id=call_id, key=result.key)
        heard = result.heard
        row.said = heard is not None
        row.evidence = heard.words if heard else None
        row.segment_id = heard.segment_id if heard else None
        row.stream_start = heard.stream_start if heard else None
        row.statement_version = result.version
        row.checked_at = utcnow()
        session.add(row)
        rows.append(row)
    for stale in existing.values():
        session.delete(stale)
    session.flush()
    return rows


def list_call_statements(*, session: Session, call_id: int) -> list[QaCallStatement]:
    """A call's required statements in the order the call required them."""
    query = select(QaCallStatement).where(QaCallStatement.call_id == call_id)
    return list(session.scalars(query.order_by(QaCallStatement.id)))


def list_calls_missing_statements(
    *, session: Session, filters: MissingFilters, page: int = 1, page_size: int = PAGE_SIZE
) -> MissingPage:
    """Calls with at least one required statement missing, newest first, with the keys
    missing on each; a page past the end shows the last one."""
    collector = _collector_alias()
    missing = select(QaCallStatement.call_id).where(QaCallStatement.said.is_(False))
    if filters.key is not None:
        missing = missing.where(QaCallStatement.key == filters.key)
    conditions: list[ColumnElement[bool]] = [Call.id.in_(missing)]
    if filters.collector_id is not None:
        conditions.append(Call.collector_id == filters.collector_id)
    if filters.date_from is not None:
        conditions.append(Call.started_at >= _utc_midnight(filters.date_from))
    if filters.date_to is not None:
        conditions.append(Call.started_at < _utc_midnight(filters.date_to + timedelta(days=1)))

    def joined(stmt: Select[Any]) -> Select[Any]:
        stmt = stmt.join(Case, Case.id == Call.case_id)
        return stmt.join(collector, collector.id == Call.collector_id).where(*conditions)

    total = int(session.scalar(joined(select(func.count(Call.id)))) or 0)
    page = min(max(1, page), max(1, -(-total // page_size)))
    stmt = (
        joined(select(Call, Case, collector))
        .order_by(Call.started_at.desc(), Call.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
        .options(lazyload(Case.debtor), lazyload(Case.collector))  # no PII to decrypt
    )
    found = [(call, case_, user) for call, case_, user in session.execute(stmt)]
    keys: dict[int, list[str]] = {}
    rows = select(QaCallStatement.call_id, QaCallStatement.key).where(
        QaCallStatement.call_id.in_([call.id for call, _, _ in found]),
        QaCallStatement.said.is_(False),
    )
    for call_id, key in session.execute(rows.order_by(QaCallStatement.id)):
        keys.setdefault(call_id, []).append(key)
    items = [MissingCall(call, case_, user, keys.get(call.id, [])) for call, case_, user in found]
    return MissingPage(items=items, total=total, page=page, page_size=page_size)


def _tenant(name: str) -> str:
    return " ".join(name.split())


def phrase_lists(*, session: Session) -> Lists:
    """Every phrase list's entries by name and language, as the matcher reads them."""
    return {row.name: _entries(row.entries) for row in session.scalars(select(QaPhraseList))}


def _statement_row(spec: RequiredStatementSpec) -> QaRequiredStatement:
    row = QaRequiredStatement(
        key=spec.key, language=spec.language, tenant=spec.tenant, version=1, updated_at=utcnow()
    )
    _write_statement(row, spec)
    return row


def _write_statement(row: QaRequiredStatement, spec: RequiredStatementSpec) -> None:
    row.description, row.phrases, row.enabled = spec.description, list(spec.phrases), spec.enabled


def _statement_spec_or_none(row: QaRequiredStatement) -> RequiredStatementSpec | None:
    try:
        return RequiredStatementSpec(
            key=row.key,
            language=row.language,
            phrases=[str(p) for p in row.phrases or ()],
            tenant=row.tenant,
            description=row.description or "",
            enabled=row.enabled,
            version=row.version,
        )
    except (ValueError, TypeError) as error:
        log.warning(
            "required statement %s (%s, %r) skipped: %s", row.key, row.language, row.tenant, error
        )
        return None


def _statement_compiles(spec: RequiredStatementSpec, lists: Lists) -> bool:
    try:
        statement_index([spec], lists)
    except ValueError as error:
        log.warning("required statement %s (%r) skipped: %s", spec.key, spec.tenant, error)
        return False
    return True


# --- flags ------------------------------------------------------------------------------


def record_flag(
    *,
    session: Session,
    call_id: int,
    segment_id: int,
    hit: Hit,
    stream_start: float,
    stream_end: float,
) -> QaFlag:
    """Persist a hit with its evidence; the rule version is kept so later edits do not
    rewrite what a flag was raised under."""
    rule_id = session.scalar(select(QaRule.id).where(QaRule.key == hit.rule_key))
    flag = QaFlag(
        call_id=call_id,
        segment_id=segment_id,
        rule_id=rule_id,
        rule_key=hit.rule_key,
        rule_version=hit.rule_version,
        category=hit.category,
        severity=hit.severity,
        start_char=hit.start,
        end_char=hit.end,
        evidence=hit.evidence,
        stream_start=stream_start,
        stream_end=stream_end,
    )
    session.add(flag)
    session.flush()
    return flag


def list_flags_for_call(*, session: Session, call_id: int) -> list[QaFlag]:
    """A call's flags in the order they happened."""
    query = (
        select(QaFlag)
        .where(QaFlag.call_id == call_id)
        .order_by(QaFlag.stream_start, QaFlag.start_char, QaFlag.id)
    )
    return list(session.scalars(query))


# --- review queue -----------------------------------------------------------------------
# What QA reviewers and supervisors work from: the queue of flags, decisions per flag
# (the latest wins and is kept on the flag; every one is kept in qa_flag_reviews), a
# scorecard per call, and
# per-rule precision from those decisions so leads can see which rules are noisy.

REVIEWER_ROLES = (Role.QA_REVIEWER, Role.SUPERVISOR)
MAX_COMMENT_CHARS = 2000
_SEVERITY_RANK = {
    Severity.CRITICAL.value: 0,
    Severity.HIGH.value: 1,
    Severity.MEDIUM.value: 2,
    Severity.LOW.value: 3,
}
EXPORT_HEADER = [
    "flag_id",
    "flagged_at",
    "call_id",
    "call_started_at",
    "account_ref",
    "collector",
    "category",
    "severity",
    "rule_key",
    "rule_version",
    "evidence",
    "segment_text",
    "at_seconds",
    "status",
    "review_reason",
    "reviewer",
    "reviewed_at",
    "review_comment",
]


class InvalidReview(ValueError):
    """A decision that cannot be recorded as given; the message says what to fix."""


def _collector_alias() -> Any:
    return aliased(User, name="collector")


def _joined(stmt: Select[Any], collector: Any) -> Select[Any]:
    """Joins every queue statement needs: flag -> segment, call -> case and collector."""
    return (
        stmt.join(Call, Call.id == QaFlag.call_id)
        .join(Case, Case.id == Call.case_id)
        .join(collector, collector.id == Call.collector_id)
        .join(TranscriptSegment, TranscriptSegment.id == QaFlag.segment_id)
    )


def _conditions(filters: QueueFilters) -> list[ColumnElement[bool]]:
    conditions: list[ColumnElement[bool]] = []
    if filters.status is not None:
        conditions.append(QaFlag.status == filters.status)
    if filters.category is not None:
        conditions.append(QaFlag.category == filters.category.value)
    if filters.severity is not None:
        conditions.append(QaFlag.severity == filters.severity.value)
    if filters.collector_id is not None:
        conditions.append(Call.collector_id == filters.collector_id)
    if filters.date_from is not None:
        conditions.append(QaFlag.created_at >= _utc_midnight(filters.date_from))
    if filters.date_to is not None:
        conditions.append(QaFlag.created_at < _utc_midnight(filters.date_to + timedelta(days=1)))
    return conditions


def _utc_midnight(day: date) -> datetime:
    return datetime.combine(day, time.min, tzinfo=UTC)


def _order(sort: QueueSort, collector: Any) -> list[ColumnElement[Any]]:
    """Every order ends with the flag id, so pages never shuffle between requests."""
    severity = case(_SEVERITY_RANK, value=QaFlag.severity, else_=len(_SEVERITY_RANK))
    newest: list[ColumnElement[Any]] = [QaFlag.created_at.desc(), QaFlag.id.desc()]
    match sort:
        case QueueSort.NEWEST:
            return newest
        case QueueSort.OLDEST:
            return [QaFlag.created_at.asc(), QaFlag.id.asc()]
        case QueueSort.CATEGORY:
            return [QaFlag.category.asc(), severity, *newest]
        case QueueSort.COLLECTOR:
            return [collector.display_name.asc(), severity, *newest]
        case _:
            return [severity, *newest]


def _items_statement(filters: QueueFilters, sort: QueueSort) -> Select[Any]:
    collector = _collector_alias()
    reviewer = aliased(User, name="reviewer")
    stmt = _joined(select(QaFlag, Call, Case, collector, TranscriptSegment, reviewer), collector)
    return (
        stmt.outerjoin(reviewer, reviewer.id == QaFlag.reviewer_id)
        .where(*_conditions(filters))
        .order_by(*_order(sort, collector))
        # The queue shows account refs, not debtors: do not load (and decrypt) their PII.
        .options(lazyload(Case.debtor), lazyload(Case.collector))
    )


def _item(row: Any) -> QueueItem:
    flag, call, case_, collector, segment, reviewer = row
    return QueueItem(
        flag=flag, call=call, case=case_, collector=collector, segment=segment, reviewer=reviewer
    )


def list_queue(
    *,
    session: Session,
    filters: QueueFilters,
    sort: QueueSort = QueueSort.SEVERITY,
    page: int = 1,
    page_size: int = PAGE_SIZE,
) -> QueuePage:
    """One page of flags matching ``filters``; a page past the end shows the last one."""
    collector = _collector_alias()
    total = session.scalar(
        _joined(select(func.count(QaFlag.id)), collector).where(*_conditions(filters))
    )
    total = int(total or 0)
    last_page = max(1, -(-total // page_size))
    page = min(max(1, page), last_page)
    stmt = _items_statement(filters, sort).limit(page_size).offset((page - 1) * page_size)
    items = [_item(row) for row in session.execute(stmt)]
    return QueuePage(items=items, total=total, page=page, page_size=page_size)


def get_queue_item(*, session: Session, flag_id: int) -> QueueItem | None:
    """One flag as the queue shows it, whatever its status."""
    stmt = _items_statement(QueueFilters(status=None), QueueSort.NEWEST).where(QaFlag.id == flag_id)
    row = session.execute(stmt).first()
    return _item(row) if row else None


def next_flag_id(
    *, session: Session, filters: QueueFilters, sort: QueueSort, after_flag_id: int
) -> int | None:
    """The flag after this one in the queue's order, for "review, then go on".

    The current flag is kept in the ordering even when its new status no longer matches
    the filters, so "next" means the one below it, not the top of the queue again.
    """
    collector = _collector_alias()
    conditions = _conditions(filters)
    matches = and_(*conditions) if conditions else true()
    stmt = (
        _joined(select(QaFlag.id), collector)
        .where(or_(matches, QaFlag.id == after_flag_id))
        .order_by(*_order(sort, collector))
    )
    ids = list(session.scalars(stmt))
    if after_flag_id not in ids:
        return ids[0] if ids else None
    position = ids.index(after_flag_id)
    return ids[position + 1] if position + 1 < len(ids) else None


def flag_context(*, session: Session, flag: QaFlag, radius: int = 3) -> list[TranscriptSegment]:
    """The flagged segment with up to ``radius`` segments either side, both speakers."""
    segments = list(case_service.list_segments(session=session, call_id=flag.call_id))
    ids = [segment.id for segment in segments]
    if flag.segment_id not in ids:
        return segments[: 2 * radius + 1]
    at = ids.index(flag.segment_id)
    return segments[max(0, at - radius) : at + radius + 1]


def review_flag(
    *,
    session: Session,
    flag_id: int,
    reviewer: User,
    decision: Decision,
    reason: ReviewReason | None = None,
    comment: str | None = None,
) -> QaFlag:
    """Record a reviewer's decision on a flag. Every decision is kept in the flag's history
    (``flag_reviews``); the flag itself holds the latest, which is the one that counts.

    A confirmation's reason is always ``confirmed``; a dismissal needs one of the dismiss
    reasons, and "other" needs a comment, so precision can later be explained.
    """
    if reviewer.role not in REVIEWER_ROLES:
        raise PermissionError(f"{reviewer.role.value} cannot review QA flags")
    flag = session.get(QaFlag, flag_id)
    if flag is None:
        raise case_service.NotFound(f"flag {flag_id} not found")
    text = (comment or "").strip() or None
    if text is not None and len(text) > MAX_COMMENT_CHARS:
        raise InvalidReview(f"Keep the comment under {MAX_COMMENT_CHARS} characters.")
    if decision == Decision.CONFIRM:
        if reason not in (None, ReviewReason.CONFIRMED):
            raise InvalidReview("A confirmation takes no dismiss reason.")
        status, reason = FlagStatus.CONFIRMED, ReviewReason.CONFIRMED
    else:
        if reason not in DISMISS_REASONS:
            raise InvalidReview("Pick the reason this flag is dismissed.")
        if reason == ReviewReason.OTHER and text is None:
            raise InvalidReview("Say in the comment why the flag is dismissed.")
        status = FlagStatus.DISMISSED
    flag.status = status
    flag.review_reason = reason
    flag.review_comment = text
    flag.reviewer_id = reviewer.id
    flag.reviewed_at = utcnow()
    session.add(
        QaFlagReview(
            flag_id=flag.id,
            reviewer_id=reviewer.id,
            status=status,
            reason=reason,
            comment=text,
            at=flag.reviewed_at,
        )
    )
    session.flush()
    return flag


def flag_reviews(*, session: Session, flag_id: int) -> list[FlagReviewEntry]:
    """Every decision on a flag with who made it, newest first, so an overruled decision
    stays visible beside the one that counts (the flag's own fields hold the latest)."""
    stmt = (
        select(QaFlagReview, User)
        .outerjoin(User, User.id == QaFlagReview.reviewer_id)
        .where(QaFlagReview.flag_id == flag_id)
        .order_by(QaFlagReview.at.desc(), QaFlagReview.id.desc())
    )
    return [FlagReviewEntry(review=review, reviewer=user) for review, user in session.execute(stmt)]


def _counts(flags: list[QaFlag]) -> StatusCounts:
    statuses = [flag.status for flag in flags]
    return StatusCounts(
        open=statuses.count(FlagStatus.OPEN),
        confirmed=statuses.count(FlagStatus.CONFIRMED),
        dismissed=statuses.count(FlagStatus.DISMISSED),
    )


def _grouped(flags: list[QaFlag], key: str) -> dict[str, StatusCounts]:
    groups: dict[str, list[QaFlag]] = {}
    for flag in flags:
        groups.setdefault(getattr(flag, key), []).append(flag)
    return {name: _counts(members) for name, members in sorted(groups.items())}


def call_scorecard(*, session: Session, call_id: int) -> Scorecard | None:
    """A call's flags summed up by category, severity and review status, and its required
    statements as stored when it ended (said, with where; or missing)."""
    call = case_service.get_call(session=session, call_id=call_id)
    if call is None:
        return None
    case_ = case_service.get_case_or_raise(session=session, case_id=call.case_id)
    collector = case_service.get_user(session=session, user_id=call.collector_id)
    assert collector is not None  # calls.collector_id is a non-null foreign key
    flags = list_flags_for_call(session=session, call_id=call_id)
    ordered_severities = sorted(
        _grouped(flags, "severity").items(),
        key=lambda kv: _SEVERITY_RANK.get(kv[0], len(_SEVERITY_RANK)),
    )
    return Scorecard(
        call=call,
        case=case_,
        collector=collector,
        flags=flags,
        by_category=_grouped(flags, "category"),
        by_severity=dict(ordered_severities),
        totals=_counts(flags),
        statements=list_call_statements(session=session, call_id=call_id),
    )


def rule_precision(*, session: Session) -> list[RulePrecision]:
    """Per rule key and version, how reviewers decided; the noisiest rules first.

    Versions are kept apart because an edit changes what a rule matches: version 2 must
    not inherit version 1's record. Rules nobody has decided on yet come last.
    """
    stmt = select(
        QaFlag.rule_key,
        QaFlag.rule_version,
        QaFlag.category,
        QaFlag.status,
        QaFlag.review_reason,
        func.count(QaFlag.id),
    ).group_by(
        QaFlag.rule_key,
        QaFlag.rule_version,
        QaFlag.category,
        QaFlag.status,
        QaFlag.review_reason,
    )
    tallies: dict[tuple[str, int], dict[str, Any]] = {}
    for rule_key, version, category, status, reason, count in session.execute(stmt):
        tally = tallies.setdefault(
            (rule_key, version),
            {"category": category, "open": 0, "confirmed": 0, "dismissed": 0, "reasons": {}},
        )
        tally[FlagStatus(status).value] += count
        if status == FlagStatus.DISMISSED and reason:
            tally["reasons"][str(reason)] = tally["reasons"].get(str(reason), 0) + count
    rules = [
        RulePrecision(
            rule_key=rule_key,
            rule_version=version,
            category=tally["category"],
            confirmed=tally["confirmed"],
            dismissed=tally["dismissed"],
            open=tally["open"],
            dismiss_reasons=tally["reasons"],
        )
        for (rule_key, version), tally in tallies.items()
    ]
    return sorted(
        rules,
        key=lambda r: (
            r.precision is None,
            r.precision or 0.0,
            -r.dismissed,
            r.rule_key,
            r.rule_version,
        ),
    )


def _iso(moment: datetime | None) -> str:
    """UTC with its offset on every backend (SQLite hands datetimes back without one)."""
    if moment is None:
        return ""
    utc = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)
    return utc.isoformat(timespec="seconds")


def export_rows(
    *, session: Session, filters: QueueFilters, sort: QueueSort = QueueSort.SEVERITY
) -> list[list[str]]:
    """Every flag matching the filters (not just one page), header first, as plain text.

    Cells are raw: ``qa_review.export.to_csv`` makes them safe for spreadsheets.
    """
    rows = [list(EXPORT_HEADER)]
    for item in (_item(row) for row in session.execute(_items_statement(filters, sort))):
        flag = item.flag
        rows.append(
            [
                str(flag.id),
                _iso(flag.created_at),
                str(item.call.id),
                _iso(item.call.started_at),
                item.case.account_ref,
                item.collector.display_name,
                flag.category,
                flag.severity,
                flag.rule_key,
                str(flag.rule_version),
                flag.evidence,
                item.segment.text,
                f"{flag.stream_start:.1f}",
                str(flag.status),
                str(flag.review_reason or ""),
                item.reviewer.display_name if item.reviewer else "",
                _iso(flag.reviewed_at),
                flag.review_comment or "",
            ]
        )
    return rows

"""The ``parley`` command: serve the app or the transcription service alone, manage the
database, load demo data, transcribe files."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

import yaml

from agent_console.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI

LOOPBACK = ("127.0.0.1", "localhost", "::1")


def _engine_and_factory(settings: Settings):  # type: ignore[no-untyped-def]
    from case_store import crypto
    from case_store.database import make_engine, make_session_factory
    from case_store.schema import upgrade

    settings.data_dir.mkdir(parents=True, exist_ok=True)
    crypto.configure(settings.resolved_secret_key, settings.previous_secret_keys)
    engine = make_engine(settings.resolved_database_url)
    upgrade(engine)
    return engine, make_session_factory(engine)


def _run_server(app: FastAPI, host: str, port: int) -> None:
    """uvicorn as every ``serve`` command runs it; pings keep idle call streams alive."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_level="info", ws_ping_interval=20)


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from agent_console import demo_data
    from agent_console.app import create_app

    host, port = args.host or settings.host, args.port or settings.port
    if args.demo or settings.demo:
        engine, factory = _engine_and_factory(settings)
        demo_data.load(factory)
        logins = demo_data.login_lines(factory)
        engine.dispose()
        print(
            f"\nParley is starting on http://{host}:{port}/  — demo sign-ins:",
            *logins,
            "",
            sep="\n",
            flush=True,
        )
    settings = settings.model_copy(update={"demo": False})
    _run_server(create_app(settings), host, port)
    return 0


def cmd_transcription_serve(args: argparse.Namespace, settings: Settings) -> int:
    from transcription.app import create_app

    host, port = args.host or settings.host, args.port or settings.port
    if host not in LOOPBACK and not settings.transcription_token:
        print(
            f"parley transcription serve: listening on {host} without PARLEY_TRANSCRIPTION_TOKEN;"
            " anyone who can reach the port can stream audio to it",
            file=sys.stderr,
        )
    _run_server(create_app(settings), host, port)
    return 0


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    engine, _ = _engine_and_factory(settings)
    engine.dispose()
    print(f"Database is at the newest schema: {engine.url.render_as_string(hide_password=True)}")
    return 0


def cmd_demo_load(args: argparse.Namespace, settings: Settings) -> int:
    from agent_console import demo_data

    engine, factory = _engine_and_factory(settings)
    counts = demo_data.load(factory)
    print("Demo data loaded (added): " + ", ".join(f"{k} {v}" for k, v in counts.items()))
    print("Sign-ins:", *demo_data.login_lines(factory), sep="\n")
    engine.dispose()
    return 0


def cmd_transcribe(args: argparse.Namespace, settings: Settings) -> int:
    from transcription.offline import transcribe_file
    from transcription.service import TranscriptionService

    path = Path(args.file)
    if not path.is_file():
        print(f"parley transcribe: no such file: {path}", file=sys.stderr)
        return 2
    service = TranscriptionService.from_settings(settings)
    try:
        print(transcribe_file(path, language=args.language, fmt=args.format, service=service))
    finally:
        service.close()
    return 0


def _open_input(name: str) -> TextIO | None:
    """``-`` is stdin; a missing file is reported here and gives ``None``."""
    if name == "-":
        return sys.stdin
    try:
        return open(name, encoding="utf-8")
    except OSError as error:
        print(f"parley qa: cannot read {name}: {error.strerror}", file=sys.stderr)
        return None


def _run_jsonl(name: str, handle: Callable[[dict[str, Any]], dict[str, Any]]) -> int:
    """Stream JSON lines through ``handle``; exit 1 when any line was refused (each one
    still has its output line, with ``error``)."""
    from qa_review.jsonl import process

    source = _open_input(name)
    if source is None:
        return 2
    refused = 0
    with source:
        for line, ok in process(source, handle):
            print(line, flush=False)
            refused += not ok
    sys.stdout.flush()
    if refused:
        print(f"parley qa: {refused} line(s) refused; see their 'error'", file=sys.stderr)
    return 1 if refused else 0


def _rule_library(args: argparse.Namespace, settings: Settings):  # type: ignore[no-untyped-def]
    """The library a batch command judges with: ``--rules FILE.yaml`` or the database's
    (seeded with the starter library on first use, as the console does)."""
    from qa_review import service as qa_service
    from qa_review.engine import RuleLibrary

    if getattr(args, "rules", None):
        return RuleLibrary.from_yaml(Path(args.rules).read_text(encoding="utf-8"))
    engine, factory = _engine_and_factory(settings)
    try:
        with factory() as session, session.begin():
            qa_service.seed_starter_rules(session=session)
            return qa_service.load_library(session=session, enabled_only=True)
    finally:
        engine.dispose()


def cmd_qa_scan(args: argparse.Namespace, settings: Settings) -> int:
    from qa_review.jsonl import scanner

    try:
        library = _rule_library(args, settings)
    except (OSError, ValueError) as error:
        print(f"parley qa scan: rules not usable: {error}", file=sys.stderr)
        return 2
    return _run_jsonl(args.file, scanner(library.engine()))


def cmd_qa_redact(args: argparse.Namespace, settings: Settings) -> int:
    from qa_review.jsonl import redactor

    return _run_jsonl(args.file, redactor)


def cmd_qa_calls(args: argparse.Namespace, settings: Settings) -> int:
    """Check whole calls for their required statements: the database's (a tenant's with
    ``--tenant``) when there is a database, else the shipped defaults."""
    from qa_review.jsonl import call_checker, statement_checker

    has_database = bool(settings.database_url) or (settings.data_dir / "parley.db").is_file()
    if not has_database:
        if args.tenant:
            print(
                "parley qa calls: --tenant needs a database (PARLEY_DATABASE_URL, or a "
                "PARLEY_DATA_DIR holding parley.db); without one only the shipped defaults apply",
                file=sys.stderr,
            )
            return 2
        return _run_jsonl(args.file, call_checker)
    statements, lists = _required_statements(args.tenant or "", settings)
    return _run_jsonl(args.file, statement_checker(statements, lists))


def _required_statements(tenant: str, settings: Settings):  # type: ignore[no-untyped-def]
    """A tenant's statements over the defaults, every language, and the phrase lists they
    may name; the starter library is seeded on first use, as ``_rule_library`` does."""
    from qa_review import service as qa_service

    engine, factory = _engine_and_factory(settings)
    try:
        with factory() as session, session.begin():
            qa_service.seed_starter_rules(session=session)
            lists = qa_service.phrase_lists(session=session)
            statements = qa_service.statements_for(
                session=session, language=None, tenant=tenant, lists=lists
            )
            return statements, lists
    finally:
        engine.dispose()


def cmd_qa_rules_export(args: argparse.Namespace, settings: Settings) -> int:
    text = _rule_library(args, settings).to_yaml()
    if args.file == "-":
        sys.stdout.write(text)
    else:
        Path(args.file).write_text(text, encoding="utf-8")
        print(f"Exported the QA rule library to {args.file}")
    return 0


def cmd_qa_rules_import(args: argparse.Namespace, settings: Settings) -> int:
    from qa_review import service as qa_service
    from qa_review.engine import RuleLibrary

    source = _open_input(args.file)
    if source is None:
        return 2
    with source:
        try:
            library = RuleLibrary.from_yaml(source.read())
        except (ValueError, yaml.YAMLError) as error:
            print(f"parley qa rules import: nothing imported: {error}", file=sys.stderr)
            return 1
    engine, factory = _engine_and_factory(settings)
    try:
        with factory() as session, session.begin():
            qa_service.seed_starter_rules(session=session)
            result = qa_service.import_library(session=session, library=library, author=None)
            if args.dry_run:
                session.rollback()
    finally:
        engine.dispose()
    verb = "would be" if args.dry_run else "were"
    print(
        f"{result.added} rule(s) {verb} added, {result.updated} updated, "
        f"{result.unchanged} unchanged ({len(library.lists)} list(s))"
    )
    if library.statements:
        print(
            f"{result.statements_added} required statement(s) {verb} added, "
            f"{result.statements_updated} updated, {result.statements_unchanged} unchanged"
        )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="parley",
        description="Parley: live assistant for debt-collection calls. Configuration comes from "
        "PARLEY_* environment variables (see the README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the web console and transcription service")
    serve.add_argument("--host", help="interface to bind (default: PARLEY_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (default: PARLEY_PORT or 8000)")
    serve.add_argument(
        "--demo", action="store_true", help="load demo data first and print the demo sign-ins"
    )
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database schema")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="ACTION")
    db_sub.add_parser(
        "upgrade", help="apply all migrations (serve does this on start)"
    ).set_defaults(func=cmd_db_upgrade)

    demo = sub.add_parser("demo", help="demo data")
    demo_sub = demo.add_subparsers(dest="demo_command", required=True, metavar="ACTION")
    demo_sub.add_parser(
        "load", help="load demo users, cases, scripts and QA rules (idempotent)"
    ).set_defaults(func=cmd_demo_load)

    transcription = sub.add_parser("transcription", help="the transcription service on its own")
    tx_sub = transcription.add_subparsers(
        dest="transcription_command", required=True, metavar="ACTION"
    )
    tx_serve = tx_sub.add_parser(
        "serve",
        help="run only the transcription service (no database, no console), e.g. on a GPU box; "
        "consoles use it through PARLEY_TRANSCRIPTION_URL",
        description="Serve /v1/stream, /health, /ready and /metrics with the models of "
        "PARLEY_MODELS on PARLEY_DEVICE (auto: CUDA when present). Run it on a GPU box and "
        "point consoles at it with PARLEY_TRANSCRIPTION_URL=ws://HOST:PORT; set "
        "PARLEY_TRANSCRIPTION_TOKEN on both sides when it listens beyond localhost.",
    )
    tx_serve.add_argument(
        "--host", help="interface to bind, e.g. 0.0.0.0 (default: PARLEY_HOST or 127.0.0.1)"
    )
    tx_serve.add_argument(
        "--port", type=int, help="port to listen on (default: PARLEY_PORT or 8000)"
    )
    tx_serve.set_defaults(func=cmd_transcription_serve)

    tr = sub.add_parser("transcribe", help="transcribe an audio file with the local Whisper model")
    tr.add_argument("file", help="audio file (wav, flac, mp3, ...)")
    tr.add_argument("--language", choices=["en", "zh"], help="spoken language (default: detect)")
    tr.add_argument(
        "--format", choices=["text", "json", "srt", "vtt"], default="text", help="output format"
    )
    tr.set_defaults(func=cmd_transcribe)

    qa = sub.add_parser("qa", help="QA checks in batch: JSON lines in, JSON lines out")
    qa_sub = qa.add_subparsers(dest="qa_command", required=True, metavar="ACTION")
    scan = qa_sub.add_parser(
        "scan",
        help="flag agent misconduct in transcript lines",
        description='Input lines {"id","lang","speaker","text"}; output lines {"id","flags":'
        '[{"category","rule","severity","start","end","evidence"}]}, one per input line, '
        'offsets into text. A bad line gets {"id","error"} and the exit code is 1.',
    )
    scan.add_argument("file", help="JSON lines file, or - for stdin")
    scan.add_argument("--rules", help="judge with this YAML library instead of the database's")
    scan.set_defaults(func=cmd_qa_scan)
    redact = qa_sub.add_parser(
        "redact",
        help="redact PII (cards, CVV, SSN, Chinese ID, phones, bank accounts)",
        description='Input lines {"id","lang","text"}; output lines {"id","text","entities":'
        '[{"type","start","end"}]} with offsets into the input text.',
    )
    redact.add_argument("file", help="JSON lines file, or - for stdin")
    redact.set_defaults(func=cmd_qa_redact)
    calls = qa_sub.add_parser(
        "calls",
        help="check a whole call for the required statements",
        description='Input lines {"id","lang","segments":[{"speaker","text"}]}; output lines '
        '{"id","required":{statement: said},"missing":[...]}. With a database (PARLEY_'
        "DATABASE_URL, or parley.db in PARLEY_DATA_DIR) its statements apply, else the "
        "shipped defaults.",
    )
    calls.add_argument("file", help="JSON lines file, or - for stdin")
    calls.add_argument(
        "--tenant",
        help="check the statements of this tenant (the creditor): its overrides replace the "
        "defaults; needs a database",
    )
    calls.set_defaults(func=cmd_qa_calls)
    rules = qa_sub.add_parser("rules", help="the rule library as YAML")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="ACTION")
    export = rules_sub.add_parser(
        "export", help="write the database's rules, lists and required statements"
    )
    export.add_argument("file", help="YAML file to write, or - for stdout")
    export.set_defaults(func=cmd_qa_rules_export)
    load = rules_sub.add_parser(
        "import",
        help="add or update rules, lists and required statements (a change gets a new version)",
    )
    load.add_argument("file", help="YAML file, or - for stdin")
    load.add_argument("--dry-run", action="store_true", help="validate and count, change nothing")
    load.set_defaults(func=cmd_qa_rules_import)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.func(args, Settings()))


if __name__ == "__main__":
    raise SystemExit(main())

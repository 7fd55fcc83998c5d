"""The ``kindred`` command: the composition root.

Exit statuses: 0 ok; 1 the operation failed (a broken card, a failed check); 2 Kindred
cannot start as configured (bad settings, nothing to run) — each with one line per problem
on stderr, never a traceback and never a secret.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import os
import stat
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from pydantic import BaseModel, SecretStr

from adapters import backup_cli, usage_cli
from adapters.hold import settings_problem
from bot.errors import CardError, ConfigError, KindredError, PersonaExists, PersonaNotFound
from bot.logs import setup_logging
from bot.personas.registry import PersonaRegistry
from bot.ports import Adapter, Service
from bot.readiness import Readiness
from bot.shutdown import DEADLINE_S, StopSignals
from bot.watchdog import LoopWatchdog
from config.settings import Settings, load_settings

# Adapters get most of the time before StopSignals' deadline; closing the runtime the rest.
STOP_TIMEOUT_S = DEADLINE_S - 3


class Exit(Exception):
    def __init__(self, status: int, message: str = "") -> None:
        super().__init__(message)
        self.status = status


class SettingsExit(Exit):
    """Exit 2 for a problem in the settings alone, known before anything was contacted
    (adapters/hold.py: a container may wait instead of restarting in a loop)."""

    def __init__(self, message: str) -> None:
        super().__init__(2, message)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kindred", description="Self-hosted AI companions.")
    sub = p.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="start every configured platform adapter")
    chat = sub.add_parser("chat", help="talk to a persona in this terminal")
    chat.add_argument("--persona", help="persona name or id")
    chat.add_argument("--user", help="who you are (default: your OS user name)")
    sub.add_parser("doctor", help="check configuration, database and LLM endpoint")
    persona = sub.add_parser("persona", help="manage personas").add_subparsers(
        dest="action", required=True
    )
    persona.add_parser("list", help="every persona with its id and scope")
    imp = persona.add_parser("import", help="import a Character Card (JSON, PNG, CHARX, YAML)")
    imp.add_argument("file", type=Path)
    imp.add_argument("--replace", action="store_true", help="overwrite a persona with that name")
    exp = persona.add_parser("export", help="export a persona as a Character Card")
    exp.add_argument("name")
    exp.add_argument("--format", choices=("v2", "v3", "png"), default="v2")
    exp.add_argument("--output", type=Path)
    ev = sub.add_parser("eval", help="measure Kindred").add_subparsers(dest="what", required=True)
    mem = ev.add_parser("memory", help="memory retrieval on a LoCoMo-format dataset")
    mem.add_argument("path", type=Path)
    mem.add_argument("--k", default="5,10", help="cut-offs for recall@k and hit@k (5,10)")
    mem.add_argument("--json", action="store_true", help="one JSON object")
    mem.add_argument("--embeddings", action="store_true", help="hybrid ranking (needs a model)")
    mem.add_argument(
        "--database-url", metavar="URL", help="postgresql://… to run on PostgreSQL (own schema)"
    )
    mem.add_argument(
        "--baseline", action="store_true", help="also plain FTS5 bm25 on the same file"
    )
    saf = ev.add_parser("safety", help="the crisis screen on labelled JSON Lines")
    saf.add_argument("path", type=Path, help="JSON Lines: text, label (crisis|not_crisis), lang")
    saf.add_argument("--json", action="store_true", help="one JSON object")
    saf.add_argument("--offline", action="store_true", help="the first (offline) stage only")
    saf.add_argument("--baseline", action="store_true", help="the old phrase screen instead")
    rep = sub.add_parser("report", help="reports for the operator").add_subparsers(
        dest="what", required=True
    )
    safety = rep.add_parser("safety", help="crisis referrals and checks per month (no users)")
    safety.add_argument("--json", action="store_true", help="one JSON object")
    reports = sub.add_parser("reports", help="messages people reported (/report)")
    reports_do = reports.add_subparsers(dest="action", required=True)
    listing = reports_do.add_parser("list", help="reports, newest first")
    listing.add_argument("--open", action="store_true", help="only those not resolved")
    listing.add_argument("--json", action="store_true", help="one JSON array")
    resolve = reports_do.add_parser("resolve", help="mark a report as dealt with")
    # A string, checked by us: a bad id is one line, not argparse's usage block.
    resolve.add_argument("id", help="the report's number (#N in the list)")
    resolve.add_argument("--note", help="what was done about it")
    # Operating Kindred (docs/operations.md): each in its own module.
    usage_cli.add_parser(sub)
    backup_cli.add_parsers(sub)
    return p


def _secrets(model: BaseModel) -> list[str]:
    """Every SecretStr in the settings, however deeply nested: a new secret setting is
    masked in the logs without anyone remembering to list it here."""
    found: list[str] = []
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            found.append(value.get_secret_value())
        elif isinstance(value, BaseModel):
            found += _secrets(value)
    return found


@asynccontextmanager
async def _personas(settings: Settings) -> AsyncIterator[PersonaRegistry]:
    """Store + registry only: persona commands must not start an LLM."""
    from bot.runtime import database_problems, open_database

    store = await open_database(settings.database_url)
    try:
        with database_problems(settings.database_url):
            registry, warnings = await PersonaRegistry.load(store, settings.personas_dir)
        for w in warnings:
            print(f"warning: {w}", file=sys.stderr)
        yield registry
    finally:
        await store.close()


async def _persona_command(args: argparse.Namespace, settings: Settings) -> int:
    from bot.personas.cards import export_card, load_card

    async with _personas(settings) as registry:
        if args.action == "list":
            for e in await registry.entries():
                scope = e.scope.value + (f":{e.owner}" if e.owner else "")
                print(f"{e.persona.id}\t{e.persona.name}\t{scope}\t{e.source}")
            return 0
        if args.action == "import":
            try:
                data = args.file.read_bytes()
            except OSError as exc:
                raise Exit(1, f"cannot read {args.file}: {exc.strerror}") from None
            warnings: tuple[str, ...] = ()
            try:
                if args.file.suffix.lower() in (".yaml", ".yml"):
                    from bot.personas.files import load_persona_file

                    persona = load_persona_file(args.file)  # its errors name the file
                else:
                    card = load_card(data, filename=args.file.name)
                    persona, warnings = card.persona, card.warnings
            except CardError as exc:
                msg = str(exc)
                raise Exit(1, msg if args.file.name in msg else f"{args.file}: {msg}") from None
            for w in warnings:
                print(f"warning: {w}", file=sys.stderr)
            try:
                saved = await registry.register(persona, replace=args.replace)
            except PersonaExists as exc:
                raise Exit(1, str(exc)) from None
            print(f"imported {saved.name} (id {saved.id})")
            return 0
        # export
        try:
            persona = await registry.resolve(args.name)
        except PersonaNotFound as exc:
            raise Exit(1, str(exc)) from None
        suffix = ".png" if args.format == "png" else f".{args.format}.json"
        out: Path = args.output or Path.cwd() / f"{persona.id}{suffix}"
        await asyncio.to_thread(out.write_bytes, export_card(persona, args.format))
        print(f"exported {persona.name} to {out}")
        return 0


async def _chat(args: argparse.Namespace, settings: Settings) -> int:
    from adapters.console.adapter import ConsoleAdapter
    from bot.runtime import build_runtime

    user = args.user or getpass.getuser() or "you"
    # In a terminal one line is one turn (no debounce), and a reply one block (no bubbles).
    rhythm = settings.rhythm.model_copy(update={"debounce_seconds": 0.0, "bubbles": False})
    settings = settings.model_copy(update={"rhythm": rhythm})
    async with await build_runtime(settings) as runtime, watching():
        return await ConsoleAdapter(runtime, user, args.persona).run()


def _configured_platforms(settings: Settings) -> list[str]:
    return [
        name
        for name, section in (("telegram", settings.telegram), ("discord", settings.discord))
        if section.token is not None
    ]


def _stdin_has_chat() -> bool:
    """A terminal, a pipe or a file on stdin: someone means to talk (`printf 'hi\\n' |
    kindred run` is a chat, as `kindred chat` is). /dev/null or a closed stdin (a container,
    a service manager) means nobody will: then a missing platform is a setup error."""
    try:
        if sys.stdin.isatty():
            return True
        mode = os.fstat(sys.stdin.fileno()).st_mode
    except (OSError, ValueError, AttributeError):
        return False
    return stat.S_ISFIFO(mode) or stat.S_ISREG(mode) or stat.S_ISSOCK(mode)


async def _run(settings: Settings) -> int:
    platforms = _configured_platforms(settings)
    if not platforms:
        if not _stdin_has_chat():
            raise SettingsExit(
                "no platform is configured: set KINDRED_TELEGRAM__TOKEN or "
                "KINDRED_DISCORD__TOKEN (in .env for Docker), or talk to a persona in a "
                "terminal with `kindred chat` (in a checkout: ./scripts/run chat; in Docker: "
                "docker compose run --rm bot chat)",
            )
        return await _chat(argparse.Namespace(user=None, persona=None), settings)
    from adapters.registry import create_adapters
    from adapters.web.server import web_server
    from bot.local_model import weights_path
    from bot.runtime import build_runtime

    if settings.needs_local_model() and settings.local_model.enabled and weights_path() is None:
        raise SettingsExit(
            "no LLM is configured: set KINDRED_LLM__BASE_URL, KINDRED_LLM__API_KEY and "
            "KINDRED_LLM__MODEL (in .env for Docker); the embedded demo model is not installed"
        )

    # Signals first: a SIGTERM while the runtime starts (a slow database) stops it too.
    with StopSignals() as signals:
        async with await build_runtime(settings) as runtime:
            # Creating the adapters imports their SDKs (seconds on a loaded machine): that is
            # start-up, before any chat is served, so the watchdog starts after it.
            adapters = create_adapters(runtime, platforms)
            services = runtime.services(adapters)
            async with web_server(runtime, adapters), watching():
                return await serve(
                    adapters, signals.requested, services=services, readiness=runtime.readiness
                )


@asynccontextmanager
async def watching() -> AsyncIterator[None]:
    """The loop-lag watchdog while Kindred serves (not during start-up, whose imports and
    table loads block the loop once, by design)."""
    with LoopWatchdog(asyncio.get_running_loop()):
        yield


async def serve(
    adapters: Sequence[Adapter],
    stop: asyncio.Event | None = None,
    stop_timeout: float = STOP_TIMEOUT_S,
    services: Sequence[Service] = (),
    readiness: Readiness | None = None,
) -> int:
    """Run adapters until ``stop`` is set (by default: until SIGINT/SIGTERM), then stop
    them all within ``stop_timeout``. Whatever then still blocks, ``StopSignals`` ends the
    process at its deadline. ``services`` (owed replies, scheduled jobs) start once every
    adapter is up, and stop after the adapters did (so what is unfinished is handed back
    last). ``readiness`` (what /readyz reports) learns when each adapter is up and down."""
    if stop is None:
        with StopSignals() as signals:
            return await serve(adapters, signals.requested, stop_timeout, services, readiness)
    ready = readiness or Readiness()
    for adapter in adapters:
        ready.expect(adapter.name)
    started: list[Adapter] = []
    try:
        for adapter in adapters:
            if stop.is_set():
                break
            await adapter.start()
            started.append(adapter)
            ready.up(adapter.name)
            logging.getLogger(__name__).info("%s adapter started", adapter.name)
        for service in services:
            service.start()
        await stop.wait()
    finally:
        for adapter in started:
            ready.down(adapter.name)
        try:
            async with asyncio.timeout(stop_timeout):
                await asyncio.gather(*(a.stop() for a in reversed(started)))
        except TimeoutError:
            logging.getLogger(__name__).warning("adapters did not stop within %ss", stop_timeout)
        for service in services:
            try:
                await service.stop()
            except Exception:
                logging.getLogger(__name__).exception("a background service did not stop cleanly")
    return 0


async def _eval(args: argparse.Namespace, settings: Settings) -> int:
    if args.what == "safety":
        from bot.safety import eval as safety_eval
        from bot.safety.wiring import eval_screen

        # As `kindred run` screens: the second stage too, unless --offline / --baseline.
        screen, close = await eval_screen(settings)
        try:
            return await safety_eval.run_cli(
                args.path, args.json, args.offline, args.baseline, screen=screen
            )
        except safety_eval.DatasetError as exc:
            raise Exit(2, str(exc)) from None
        finally:
            await close()
    from bot.memory.eval import DatasetError, run_cli

    try:
        return await run_cli(
            args.path, args.k, args.json, args.embeddings, args.database_url, args.baseline
        )
    except DatasetError as exc:
        raise Exit(2, str(exc)) from None


async def _report(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import database_problems, open_database
    from bot.safety.report import render_json, render_table

    store = await open_database(settings.database_url)
    try:
        with database_problems(settings.database_url):
            counts = await store.safety_counts()
    finally:
        await store.close()
    print(render_json(counts) if args.json else render_table(counts))
    return 0


async def _reports(args: argparse.Namespace, settings: Settings) -> int:
    from bot.runtime import database_problems, open_database
    from bot.safety.reports_view import render_json, render_one, render_text

    report_id = 0
    if args.action == "resolve":
        text = args.id.strip()
        if not text.isascii() or not text.isdigit() or not 0 < int(text) < 2**63:
            raise Exit(2, f"not a report number: {args.id!r} (see kindred reports list)")
        report_id = int(text)
    store = await open_database(settings.database_url)
    try:
        with database_problems(settings.database_url):
            if args.action == "list":
                found = await store.reports(open_only=args.open)
                print(render_json(found) if args.json else render_text(found, args.open))
                return 0
            done = await store.resolve_report(report_id, args.note)
    finally:
        await store.close()
    if done is None:
        raise Exit(2, f"there is no report {report_id} (see kindred reports list)")
    print(f"resolved:\n{render_one(done)}")
    return 0


async def _main(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "usage":
        return await usage_cli.run(args, settings)
    if args.command in ("backup", "restore"):
        return await backup_cli.run(args, settings)
    if args.command == "eval":
        return await _eval(args, settings)
    if args.command == "report":
        return await _report(args, settings)
    if args.command == "reports":
        return await _reports(args, settings)
    if args.command == "persona":
        return await _persona_command(args, settings)
    if args.command == "chat":
        return await _chat(args, settings)
    if args.command == "doctor":
        from adapters.doctor import doctor

        return await doctor(settings)
    return await _run(settings)


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        settings = load_settings()
    except ConfigError as exc:
        print("kindred: configuration problem:", file=sys.stderr)
        for line in exc.problems:
            print(f"  {line}", file=sys.stderr)
        return settings_problem(2) if args.command == "run" else 2
    explicit_level = "KINDRED_LOG_LEVEL" in os.environ
    # In a terminal chat, INFO lines would interleave with the conversation.
    # (A `kindred run` that turns into a chat on piped stdin is a chat.)
    piped_chat = not _configured_platforms(settings) and _stdin_has_chat()
    headless_run = args.command == "run" and not sys.stdin.isatty() and not piped_chat
    level = settings.log_level if explicit_level or headless_run else "WARNING"
    openai_key = [os.environ["OPENAI_API_KEY"]] if os.environ.get("OPENAI_API_KEY") else []
    setup_logging(level, _secrets(settings) + openai_key, fmt=settings.log_format)
    try:
        return asyncio.run(_main(args, settings))
    except Exit as exc:
        if str(exc):
            print(f"kindred: {exc}", file=sys.stderr)
        return settings_problem(exc.status) if isinstance(exc, SettingsExit) else exc.status
    except (KindredError, OSError) as exc:
        print(f"kindred: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 0


if __name__ == "__main__":
    sys.exit(main())

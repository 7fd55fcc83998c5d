"""``kindred doctor``: every check a new operator needs before the first message, one line
each (``ok``, ``warn`` or ``FAIL``), and exit status 1 when any check failed.

Checks are independent: a broken database does not hide a broken LLM endpoint or a
rejected platform token — the operator sees every problem in one run, not one per fix.
Nothing printed carries a secret (tokens and keys travel only in request headers/URLs).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from bot.errors import KindredError, PersonaNotFound
from config.settings import Settings

Level = Literal["ok", "warn", "FAIL"]


@dataclass(frozen=True)
class Finding:
    level: Level
    text: str

    def line(self) -> str:
        return f"{self.level:<5} {self.text}"


async def doctor(settings: Settings) -> int:
    findings: list[Finding] = []
    print(Finding("ok", "configuration").line(), flush=True)  # load_settings() passed
    for check in (_tokenizer, _database, _llm, _platforms):
        for f in await check(settings):
            print(f.line(), flush=True)
            findings.append(f)
    return 1 if any(f.level == "FAIL" for f in findings) else 0


async def _tokenizer(settings: Settings) -> list[Finding]:
    from bot.tokens import get_tokenizer

    return [Finding("ok", f"tokenizer ({get_tokenizer().name})")]


async def _database(settings: Settings) -> list[Finding]:
    """The database, the persona files in it, and the default persona a new chat gets."""
    from bot.personas.registry import PersonaRegistry
    from bot.runtime import database_problems, open_database

    url = settings.database_url
    try:
        store = await open_database(url)
    except KindredError as exc:
        return [Finding("FAIL", str(exc))]
    try:
        with database_problems(url):
            registry, warnings = await PersonaRegistry.load(store, settings.personas_dir)
            entries = await registry.entries()
            found = [Finding("ok", f"database ({url.split('://', 1)[0]}): {len(entries)} personas")]
            found += [Finding("FAIL", f"persona file: {w}") for w in warnings]
            try:
                default = await registry.resolve(settings.default_persona)
                found.append(Finding("ok", f"default persona: {default.name} ({default.id})"))
            except PersonaNotFound:
                names = ", ".join(sorted(e.persona.id for e in entries)) or "none"
                found.append(
                    Finding(
                        "FAIL",
                        f"KINDRED_DEFAULT_PERSONA={settings.default_persona!r} is not a "
                        f"persona (there are: {names}; see kindred persona list)",
                    )
                )
            return found
    except KindredError as exc:
        return [Finding("FAIL", str(exc))]
    finally:
        await store.close()


async def _llm(settings: Settings) -> list[Finding]:
    """The endpoint `kindred run` would use (or the embedded model), probed on its own, so
    it is checked even when the database is not."""
    from bot.llm import OpenAIChatModel
    from bot.local_model import start_local_server

    llm = settings.effective_llm()
    kind = "LLM endpoint"
    try:
        if settings.needs_local_model() and settings.local_model.enabled:
            server = start_local_server(
                settings.local_model.context_window, settings.local_model.threads
            )
            llm = llm.model_copy(update={"base_url": server.base_url, "model": server.model})
            kind = "embedded local model"
        model = OpenAIChatModel(llm, default_model=llm.model or "gpt-4o-mini")
        try:
            return [Finding("ok", f"{kind}: {await model.check()}")]
        finally:
            await model.aclose()
    except KindredError as exc:
        return [Finding("FAIL", f"{kind}: {exc}")]


async def _platforms(settings: Settings) -> list[Finding]:
    found: list[Finding] = []
    if settings.telegram.token is None and settings.discord.token is None:
        found.append(
            Finding(
                "warn",
                "no platform configured (KINDRED_TELEGRAM__TOKEN, KINDRED_DISCORD__TOKEN): "
                "kindred run only chats in the terminal",
            )
        )
    if settings.telegram.token is not None:
        from adapters.telegram.doctor import check_telegram

        found += await check_telegram(settings.telegram)
    if settings.discord.token is not None:
        from adapters.discord.doctor import check_discord

        found += await check_discord(settings.discord)
    return found

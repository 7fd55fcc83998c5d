"""Size limits on cards and chat-made personas (bot/personas/limits.py): hostile cards are
refused quickly with "<field> too large: N > M", real cards still import."""

from __future__ import annotations

import io
import json
import time
import zipfile
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bot.engine import Engine, EngineConfig
from bot.errors import CardError
from bot.events import AttachedFile, ChatKind, ChatRef, CommandRequest, UserRef
from bot.llm import OpenAIChatModel
from bot.persona_admin import PersonaAdmin
from bot.personas.cards import MAX_CARD_BYTES, load_card
from bot.personas.limits import (
    MAX_LORE_ENTRIES,
    MAX_REGEX_KEYS,
    TEXT_LIMITS,
    check_persona,
)
from bot.personas.model import Lorebook, LoreEntry, Persona
from bot.personas.registry import PersonaRegistry
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT, LLMSettings
from tests.fakes.channel import RecordingChannel
from tests.fakes.openai_server import FakeOpenAI

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "cards"


def card(**data: Any) -> bytes:
    body = {"name": "Nova", "description": "A pilot.", **data}
    return json.dumps({"spec": "chara_card_v2", "spec_version": "2.0", "data": body}).encode()


def refused(data: bytes) -> str:
    started = time.perf_counter()
    with pytest.raises(CardError) as err:
        load_card(data, filename="card.json")
    assert time.perf_counter() - started < 2.0  # refused before the expensive part
    return str(err.value)


def test_a_46_mb_card_is_refused_by_its_size() -> None:
    """It was imported (the adapter only checked the declared size): 4.2 GB of memory."""
    data = card(description="x" * 46_000_000)
    assert refused(data) == (f"card file too large: {len(data):,} > {MAX_CARD_BYTES:,} bytes")


def test_a_10000_entry_lorebook_is_refused() -> None:
    entries = [{"keys": [f"k{i}"], "content": "lore", "enabled": True} for i in range(10_000)]
    message = refused(card(character_book={"entries": entries}))
    assert message == (
        f"data.character_book.entries too large: 10,000 > {MAX_LORE_ENTRIES:,} entries"
    )


@pytest.mark.parametrize(
    ("field", "size"),
    [("description", 70_000), ("first_mes", 40_000), ("name", 500), ("mes_example", 65_537)],
)
def test_a_field_too_long_is_refused_naming_it(field: str, size: int) -> None:
    message = refused(card(**{field: "y" * size}))
    assert message == (f"data.{field} too large: {size:,} > {TEXT_LIMITS[field]:,} characters")


@pytest.mark.parametrize(
    ("update", "expected"),
    [
        ({"alternate_greetings": ["hi"] * 201}, "data.alternate_greetings too large: 201 > 200"),
        ({"alternate_greetings": ["hi", "z" * 40_000]}, "data.alternate_greetings[1] too large"),
        (
            {"character_book": {"entries": [{"keys": ["k"] * 101, "content": "c"}]}},
            "data.character_book.entries[0].keys too large: 101 > 100 keys",
        ),
        (
            {"character_book": {"entries": [{"keys": ["k" * 1001], "content": "c"}]}},
            "data.character_book.entries[0].keys[0] too large: 1,001 > 1,000",
        ),
        (
            {"character_book": {"entries": [{"keys": ["k"], "content": "c" * 40_000}]}},
            "data.character_book.entries[0].content too large: 40,000 > 32,768",
        ),
    ],
)
def test_lists_and_lorebook_parts_are_bounded(update: dict[str, Any], expected: str) -> None:
    assert refused(card(**update)).startswith(expected)


def test_too_many_regex_keys_are_refused() -> None:
    entries = [{"keys": [f"/k{i}/"], "content": "c", "use_regex": True} for i in range(1001)]
    message = refused(card(character_book={"entries": entries}))
    expected = f"data.character_book regex keys too large: 1,001 > {MAX_REGEX_KEYS:,}"
    assert message.startswith(expected)


def test_a_json_of_a_million_values_is_refused_before_parsing() -> None:
    data = b'{"name": "x", "junk": [' + b"0," * 1_000_000 + b"0]}"
    assert refused(data).startswith("card too large: 1,000,002 > 500,000 JSON values")


def test_a_charx_with_thousands_of_files_is_refused() -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        archive.writestr("card.json", card())
        for i in range(2_500):
            archive.writestr(f"assets/x/{i}.png", b"")
    assert refused(buf.getvalue()) == "CHARX archive too large: 2,501 > 2,000 files"


def test_regex_keys_that_never_match_are_reported_naming_the_entry() -> None:
    entries = [
        {"keys": ["fine"], "content": "a", "use_regex": True},
        {"keys": ["ok", "/(unclosed/"], "content": "b", "use_regex": True},
        {"keys": ["x"], "secondary_keys": ["/(?:a{1000}){1000}/"], "content": "c"},
    ]
    entries[2]["use_regex"] = True
    imported = load_card(card(character_book={"entries": entries}))
    notes = [w for w in imported.warnings if "regex" in w]
    assert len(notes) == 2
    assert notes[0].startswith("data.character_book.entries[1].keys[1]: regex '/(unclosed/'")
    assert "does not compile" in notes[0]
    assert notes[1].startswith("data.character_book.entries[2].secondary_keys[0]:")
    assert "repeats too often" in notes[1]


@pytest.mark.parametrize("path", sorted(FIXTURES.glob("tk_*")), ids=lambda p: p.name)
def test_real_cards_fit_the_limits(path: Path) -> None:
    load_card(path.read_bytes(), filename=path.name)


def test_a_big_but_real_card_fits() -> None:
    """Numbers from large cards on card sites: 30k-character descriptions, 20k of examples,
    a few hundred lore entries with several keys each."""
    entries = [
        {"keys": [f"place {i}", f"alias {i}", "shared"], "content": "Lore. " * 300}
        for i in range(500)
    ]
    imported = load_card(
        card(
            description="She is. " * 4000,
            mes_example="<START>\n{{user}}: hi\n{{char}}: hello\n" * 500,
            alternate_greetings=["Hello there. " * 200] * 30,
            character_book={"entries": entries},
        )
    )
    book = imported.persona.character_book
    assert book is not None and len(book.entries) == 500


def test_personas_made_in_code_are_checked_the_same_way() -> None:
    book = Lorebook(entries=tuple(LoreEntry(keys=("k",), content="c") for _ in range(2001)))
    with pytest.raises(CardError, match=r"^character_book.entries too large: 2,001 > 2,000"):
        check_persona(Persona(id="x", name="x", character_book=book))


# --- the chat commands ----------------------------------------------------------------------


@dataclass
class Rig:
    admin: PersonaAdmin
    store: SQLiteStore


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    async with FakeOpenAI() as fake:
        store = SQLiteStore(tmp_path / "k.db")
        await store.open()
        registry, _ = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
        model = OpenAIChatModel(LLMSettings(base_url=fake.base_url, api_key="sk-x"), "m")
        engine = Engine(
            store=store,
            model=model,
            registry=registry,
            config=EngineConfig(model="m", default_persona="mom"),
        )
        try:
            yield Rig(PersonaAdmin(engine), store)
        finally:
            await model.aclose()
            await store.close()


def command(name: str, text: str = "", file: AttachedFile | None = None) -> CommandRequest:
    return CommandRequest(
        chat=ChatRef("telegram", "42", ChatKind.PRIVATE),
        user=UserRef("telegram", "42", "Ana"),
        name=name,
        args=tuple(text.split("\n")[0].split()),
        text=text,
        file=file,
    )


async def run(rig: Rig, cmd: CommandRequest) -> list[str]:
    channel = RecordingChannel()
    await rig.admin.run(cmd, channel)
    return channel.sent()


async def test_persona_create_refuses_a_description_too_large(rig: Rig) -> None:
    answer = await run(rig, command("persona_create", "Big\n" + "z" * 70_000))
    assert answer == ["Not created: description too large: 70,000 > 65,536 characters."]
    assert not any(sp.persona.name == "Big" for sp in await rig.store.list_personas())
    assert (await run(rig, command("persona_create", "Small\nA kind aunt.")))[0].startswith(
        "Created Small"
    )


async def test_persona_create_refuses_a_name_too_long(rig: Rig) -> None:
    answer = await run(rig, command("persona_create", "N" * 150 + "\nA kind aunt."))
    assert answer == ["Not created: name too large: 150 > 100 characters."]


async def test_persona_edit_refuses_a_field_too_large(rig: Rig) -> None:
    await run(rig, command("persona_create", "Aunt\nA kind aunt."))
    answer = await run(rig, command("persona_edit", "Aunt scenario " + "s" * 40_000))
    assert answer == ["Not changed: scenario too large: 40,000 > 32,768 characters."]
    stored = [sp.persona for sp in await rig.store.list_personas() if sp.persona.name == "Aunt"]
    assert stored[0].scenario == ""
    answer = await run(rig, command("persona_edit", "Aunt scenario A quiet village."))
    assert answer == ["Updated scenario of Aunt."]


async def test_persona_import_refuses_a_46_mb_card(rig: Rig) -> None:
    data = card(description="x" * 46_000_000)
    answer = await run(rig, command("persona_import", file=AttachedFile("big.json", data)))
    assert answer == [
        f"I could not read that card: card file too large: {len(data):,} > {MAX_CARD_BYTES:,} bytes"
    ]


async def test_persona_import_still_imports_a_card(rig: Rig) -> None:
    data = (FIXTURES / "tk_v3_with_lorebook.charx").read_bytes()
    answer = await run(rig, command("persona_import", file=AttachedFile("c.charx", data)))
    assert answer[0].startswith("Imported ")

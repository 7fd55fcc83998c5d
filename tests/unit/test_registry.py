from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bot.errors import PersonaExists, PersonaNotFound
from bot.personas.model import Persona, PersonaScope
from bot.personas.registry import PersonaRegistry
from bot.store.sqlite import SQLiteStore
from config.settings import PROJECT_ROOT


@pytest.fixture
async def registry(tmp_path: Path) -> AsyncIterator[PersonaRegistry]:
    store = SQLiteStore(tmp_path / "r.db")
    await store.open()
    reg, warnings = await PersonaRegistry.load(store, PROJECT_ROOT / "personas")
    assert warnings == []
    yield reg
    await store.close()


async def test_resolve_by_id_name_case_insensitively(registry: PersonaRegistry) -> None:
    assert (await registry.resolve("mom")).name == "Mom"
    assert (await registry.resolve("MOM")).id == "mom"
    assert (await registry.resolve(" Sunny ")).id == "sunny"
    with pytest.raises(PersonaNotFound):
        await registry.resolve("nobody")


async def test_register_conflicts_and_replace(registry: PersonaRegistry) -> None:
    mine = Persona(id="mom", name="mom", description="an imported mom")
    with pytest.raises(PersonaExists):
        await registry.register(mine)
    saved = await registry.register(mine, replace=True)
    assert saved.id == "mom"  # the built-in is shadowed, conversations continue
    assert (await registry.resolve("mom")).description == "an imported mom"
    sources = {e.persona.id: e.source for e in await registry.entries()}
    assert sources["mom"] == "database"


async def test_owned_personas_are_visible_only_to_their_owner(registry: PersonaRegistry) -> None:
    p = Persona(id="granny", name="Granny")
    await registry.register(p, scope=PersonaScope.USER, owner="telegram:1")
    assert "granny" in {e.persona.id for e in await registry.visible_to({"telegram:1"})}
    assert "granny" not in {e.persona.id for e in await registry.visible_to({"telegram:2"})}
    with pytest.raises(PersonaNotFound):
        await registry.resolve("Granny", {"telegram:2"})
    # The same name for another owner is a different persona with its own id.
    other = await registry.register(
        Persona(id="granny", name="Granny"), scope=PersonaScope.USER, owner="telegram:2"
    )
    assert other.id != "granny"

"""Where personas come from: the built-in files in ``personas/`` and the ones registered in
the database (imported cards, admin-created personas). A database persona with the same id
as a file persona shadows it, so an operator can ``import --replace`` a built-in without
touching the shipped files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from bot.errors import PersonaExists, PersonaNotFound
from bot.personas.model import Persona, PersonaScope, slugify
from bot.store.base import Store


@dataclass(frozen=True, slots=True)
class PersonaEntry:
    persona: Persona
    scope: PersonaScope
    owner: str | None
    source: str  # "file" or "database"


class PersonaRegistry:
    def __init__(self, store: Store, file_personas: list[Persona]) -> None:
        self._store = store
        self._files = {p.id: p for p in file_personas}

    @classmethod
    async def load(cls, store: Store, personas_dir: Path) -> tuple[PersonaRegistry, list[str]]:
        from bot.personas.files import load_persona_dir

        personas, warnings = load_persona_dir(personas_dir)
        return cls(store, personas), warnings

    async def entries(self) -> list[PersonaEntry]:
        """Every persona, database ones shadowing files with the same id, sorted by name."""
        found = {
            pid: PersonaEntry(p, PersonaScope.GLOBAL, None, "file")
            for pid, p in self._files.items()
        }
        for sp in await self._store.list_personas():
            found[sp.persona.id] = PersonaEntry(sp.persona, sp.scope, sp.owner, "database")
        return sorted(found.values(), key=lambda e: (e.persona.name.lower(), e.persona.id))

    async def visible_to(self, owners: set[str]) -> list[PersonaEntry]:
        """Personas a user may use: global ones and those owned by one of ``owners``
        (e.g. ``{"telegram:42", "telegram:group:-100"}``)."""
        return [e for e in await self.entries() if e.owner is None or e.owner in owners]

    async def get(self, persona_id: str) -> Persona | None:
        stored = await self._store.get_persona(persona_id)
        if stored is not None:
            return stored.persona
        return self._files.get(persona_id)

    async def resolve(self, name_or_id: str, owners: set[str] | None = None) -> Persona:
        """Match an id exactly, else a name or nickname case-insensitively."""
        wanted = name_or_id.strip()
        if owners is None:
            # The engine resolves the chat's persona by id on every message: one row
            # lookup instead of listing (and validating) every stored persona.
            found = await self.get(wanted)
            if found is not None:
                return found
        entries = await (self.entries() if owners is None else self.visible_to(owners))
        for e in entries:
            if e.persona.id == wanted:
                return e.persona
        folded = wanted.casefold()
        for e in entries:
            names = {e.persona.name.casefold(), e.persona.display_name.casefold()}
            if folded in names or slugify(wanted) == e.persona.id:
                return e.persona
        raise PersonaNotFound(f"no persona named {name_or_id!r}")

    async def register(
        self,
        persona: Persona,
        *,
        replace: bool = False,
        scope: PersonaScope = PersonaScope.GLOBAL,
        owner: str | None = None,
    ) -> Persona:
        """Store a persona. An existing name (or id) is an error unless ``replace``, in
        which case the existing persona's id is reused so conversations continue."""
        existing: Persona | None = None
        for e in await self.entries():
            same_name = e.persona.name.casefold() == persona.name.casefold()
            if e.owner == owner and (same_name or e.persona.id == persona.id):
                existing = e.persona
                break
        if existing is not None:
            if not replace:
                raise PersonaExists(
                    f"a persona named {existing.name!r} already exists (id {existing.id}); "
                    "use --replace to overwrite it"
                )
            persona = persona.model_copy(update={"id": existing.id})
        elif persona.id in self._files or await self._store.get_persona(persona.id):
            # Same slug, different owner: keep ids unique.
            persona = persona.model_copy(update={"id": await self._free_id(persona.id)})
        await self._store.save_persona(persona, scope, owner)
        return persona

    async def _free_id(self, base: str) -> str:
        n = 2
        while base + f"-{n}" in self._files or await self._store.get_persona(f"{base}-{n}"):
            n += 1
        return f"{base}-{n}"

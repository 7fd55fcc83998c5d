"""Size limits on personas, whether imported from a card or made in a chat.

Anyone can DM the bot, and in their own private chat a person manages their own personas, so a
persona is untrusted input that is read on every reply: a 46 MB card took 4.2 GB of memory, a
10,000-entry lorebook made every reply take 11 s. The limits are generous for real cards (the
large ones on card sites have descriptions of 10-30k characters, examples of similar size and
lorebooks of a few hundred entries) and small enough that one persona cannot hurt the others.
A refusal names the field and both numbers: "data.description too large: 70,000 > 65,536
characters".
"""

from __future__ import annotations

from collections.abc import Sized

from bot.errors import CardError
from bot.personas.lore_keys import regex_problem
from bot.personas.model import Lorebook, Persona

# A card file as received (PNG, CHARX or JSON); adapters may refuse larger downloads early.
MAX_CARD_BYTES = 20 * 1024 * 1024
# Values in a card's JSON (commas, which also bound arrays): a few hundred thousand small
# objects are tens of megabytes in Python, and a card of real text has far fewer.
MAX_JSON_VALUES = 500_000
# Members of a CHARX archive (a card, its icon and some expression images).
MAX_ARCHIVE_MEMBERS = 2_000

# Characters per text field. The prompt fields are in every prompt, so they are bounded the
# hardest; a name is repeated for every {{char}}.
TEXT_LIMITS: dict[str, int] = {
    "name": 100,
    "nickname": 100,
    "description": 65_536,
    "personality": 32_768,
    "scenario": 32_768,
    "first_mes": 32_768,
    "mes_example": 65_536,
    "system_prompt": 32_768,
    "post_history_instructions": 32_768,
    "creator_notes": 65_536,
    "creator": 1_000,
    "character_version": 1_000,
    "apology": 4_000,
}
MAX_GREETINGS = 200  # alternate_greetings and group_only_greetings, each
MAX_GREETING_CHARS = 32_768
MAX_TAGS = 200  # tags and source, each
MAX_TAG_CHARS = 1_000

MAX_LORE_ENTRIES = 2_000
MAX_KEYS_PER_ENTRY = 100  # keys and secondary_keys, each
MAX_KEY_CHARS = 1_000
MAX_BOOK_KEYS = 20_000
MAX_REGEX_KEYS = 1_000  # keys of use_regex entries: each is compiled to check it at import
MAX_ENTRY_CHARS = 32_768
MAX_LORE_CHARS = 2_000_000  # all entries' content together


def too_large(what: str, size: int, limit: int, unit: str) -> CardError:
    return CardError(f"{what} too large: {size:,} > {limit:,} {unit}")


def _at(where: str, name: str) -> str:
    return f"{where}.{name}" if where else name


def _check_len(what: str, value: Sized, limit: int, unit: str = "characters") -> None:
    if len(value) > limit:
        raise too_large(what, len(value), limit, unit)


def check_text(field: str, value: str, where: str = "") -> None:
    """A single field as typed in a chat (``/persona_edit``) or read from a card."""
    limit = TEXT_LIMITS.get(field)
    if limit is not None:
        _check_len(_at(where, field), value, limit)


def check_persona(persona: Persona, where: str = "") -> None:
    """Raise :class:`CardError` naming the first field over its limit. ``where`` prefixes the
    field paths ("data" for a V2/V3 card)."""
    for field in TEXT_LIMITS:
        value = getattr(persona, field, None)
        if isinstance(value, str):
            check_text(field, value, where)
    for field in ("alternate_greetings", "group_only_greetings"):
        items: tuple[str, ...] = getattr(persona, field)
        _check_len(_at(where, field), items, MAX_GREETINGS, "greetings")
        for i, text in enumerate(items):
            _check_len(f"{_at(where, field)}[{i}]", text, MAX_GREETING_CHARS)
    for field in ("tags", "source"):
        items = getattr(persona, field)
        _check_len(_at(where, field), items, MAX_TAGS, "items")
        for i, text in enumerate(items):
            _check_len(f"{_at(where, field)}[{i}]", text, MAX_TAG_CHARS)
    if persona.character_book is not None:
        check_lorebook(persona.character_book, _at(where, "character_book"))


def check_entry_count(count: int, where: str) -> None:
    """Called before the entries are parsed, so a 10,000-entry book costs nothing."""
    if count > MAX_LORE_ENTRIES:
        raise too_large(_at(where, "entries"), count, MAX_LORE_ENTRIES, "entries")


def check_lorebook(book: Lorebook, where: str) -> None:
    check_entry_count(len(book.entries), where)
    total_keys = total_chars = regex_keys = 0
    for i, entry in enumerate(book.entries):
        at = f"{_at(where, 'entries')}[{i}]"
        for field in ("keys", "secondary_keys"):
            keys: tuple[str, ...] = getattr(entry, field)
            _check_len(f"{at}.{field}", keys, MAX_KEYS_PER_ENTRY, "keys")
            for j, key in enumerate(keys):
                _check_len(f"{at}.{field}[{j}]", key, MAX_KEY_CHARS)
            total_keys += len(keys)
            regex_keys += len(keys) if entry.use_regex else 0
        _check_len(f"{at}.content", entry.content, MAX_ENTRY_CHARS)
        total_chars += len(entry.content)
    if regex_keys > MAX_REGEX_KEYS:
        raise too_large(f"{where} regex keys", regex_keys, MAX_REGEX_KEYS, "keys")
    if total_keys > MAX_BOOK_KEYS:
        raise too_large(f"{where} keys", total_keys, MAX_BOOK_KEYS, "keys")
    if total_chars > MAX_LORE_CHARS:
        raise too_large(f"{where} content", total_chars, MAX_LORE_CHARS, "characters")


def regex_key_warnings(persona: Persona, where: str = "") -> list[str]:
    """A regex key that cannot compile, or that the matcher refuses, never matches: say so
    at import, naming the entry, rather than leave the author wondering."""
    book = persona.character_book
    if book is None:
        return []
    path = _at(where, "character_book.entries")
    warnings = []
    for i, entry in enumerate(book.entries):
        if not entry.use_regex:
            continue
        for field in ("keys", "secondary_keys"):
            for j, key in enumerate(getattr(entry, field)):
                problem = regex_problem(key, entry.case_sensitive)
                if problem is not None:
                    warnings.append(
                        f"{path}[{i}].{field}[{j}]: regex {key[:60]!r} {problem}; "
                        "it will never match"
                    )
    return warnings

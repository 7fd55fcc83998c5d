from __future__ import annotations

import json
import struct
import sys
import types
import zlib
from pathlib import Path
from typing import Any

import pytest

from bot.errors import CardError
from bot.personas.files import load_persona_dir, load_persona_file
from bot.personas.lorebook import select_lore
from bot.personas.macros import expand
from bot.personas.model import Persona
from bot.tokens import count_tokens

PERSONAS = Path(__file__).resolve().parents[2] / "personas"
SHIPPED = ("mom", "sunny", "host")
CARDS_MODULE = "bot.personas.cards"

# Bytes per pixel for 8-bit PNG colour types 0, 2, 3, 4, 6.
_BPP = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}


def png_size(data: bytes) -> tuple[int, int]:
    """Width and height of a well-formed 8-bit, non-interlaced PNG; fails the test otherwise."""
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos, chunks = 8, []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        ctype, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length : pos + 12 + length])
        assert zlib.crc32(ctype + body) == crc, f"bad CRC in {ctype!r}"
        chunks.append((ctype, body))
        pos += 12 + length
    assert chunks[0][0] == b"IHDR"
    assert chunks[-1][0] == b"IEND"
    width, height, depth, colour, _, _, interlace = struct.unpack(">IIBBBBB", chunks[0][1])
    assert depth == 8
    assert interlace == 0
    pixels = zlib.decompress(b"".join(b for t, b in chunks if t == b"IDAT"))
    assert len(pixels) == height * (1 + width * _BPP[colour])
    return width, height


def tiny_png() -> bytes:
    def chunk(ctype: bytes, body: bytes) -> bytes:
        crc = struct.pack(">I", zlib.crc32(ctype + body))
        return struct.pack(">I", len(body)) + ctype + body + crc

    ihdr = struct.pack(">IIBBBBB", 2, 2, 8, 2, 0, 0, 0)
    idat = zlib.compress((b"\x00" + b"\xff\x00\x00" * 2) * 2)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# --- the shipped personas ---------------------------------------------------------------


@pytest.fixture(scope="module")
def shipped() -> dict[str, Persona]:
    personas, warnings = load_persona_dir(PERSONAS)
    assert warnings == []
    return {p.id: p for p in personas}


def test_shipped_personas_load_sorted_by_name(shipped: dict[str, Persona]) -> None:
    assert set(SHIPPED) <= set(shipped)
    personas, _ = load_persona_dir(PERSONAS)
    assert [p.name.casefold() for p in personas] == sorted(p.name.casefold() for p in personas)


def test_mom_is_mom(shipped: dict[str, Persona]) -> None:
    mom = shipped["mom"]
    assert mom.name == "Mom"
    assert mom.language == "en"
    assert any("妈妈" in g for g in mom.greetings)
    assert "Mom is here" in " ".join(mom.greetings)


def test_host_has_group_greetings(shipped: dict[str, Persona]) -> None:
    assert len(shipped["host"].group_only_greetings) >= 1


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_persona_is_complete(shipped: dict[str, Persona], pid: str) -> None:
    p = shipped[pid]
    assert p.id == pid
    for field in (
        "description",
        "personality",
        "scenario",
        "first_mes",
        "system_prompt",
        "post_history_instructions",
        "apology",
        "creator_notes",
    ):
        assert getattr(p, field), f"{pid}: {field} is empty"
    assert 1 <= len(p.alternate_greetings) <= 2
    assert p.tags
    assert p.language == "en"
    assert p.voice  # every shipped persona can answer with voice replies
    assert p.sampling.temperature is not None


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_examples_have_start_blocks(shipped: dict[str, Persona], pid: str) -> None:
    p = shipped[pid]
    blocks = [b.strip() for b in p.mes_example.split("<START>") if b.strip()]
    assert p.mes_example.startswith("<START>")
    assert 2 <= len(blocks) <= 3
    for block in blocks:
        assert block.startswith("{{user}}:")
        assert "\n{{char}}:" in block


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_avatar_is_a_valid_square_png(shipped: dict[str, Persona], pid: str) -> None:
    avatar = shipped[pid].avatar_png
    assert avatar is not None
    assert avatar == (PERSONAS / f"{pid}.png").read_bytes()
    width, height = png_size(avatar)
    assert width == height
    assert width in (256, 512)
    assert len(avatar) < 200_000


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_text_uses_only_known_macros(shipped: dict[str, Persona], pid: str) -> None:
    p = shipped[pid]
    texts = [
        p.description,
        p.personality,
        p.scenario,
        p.mes_example,
        p.system_prompt,
        p.post_history_instructions,
        p.apology or "",
        *p.greetings,
        *p.group_only_greetings,
        *(e.content for e in (p.character_book.entries if p.character_book else ())),
    ]
    for text in texts:
        out = expand(text, char=p.display_name, user="Ana")
        assert "{{" not in out
        assert "}}" not in out


@pytest.mark.parametrize("pid", SHIPPED)
def test_shipped_definition_is_compact(shipped: dict[str, Persona], pid: str) -> None:
    """The permanent part of the prompt must leave room for history on small models."""
    p = shipped[pid]
    permanent = "\n".join(
        [p.system_prompt, p.description, p.personality, p.scenario, p.post_history_instructions]
    )
    assert count_tokens(permanent) < 1200


def test_mom_lorebook_reacts_to_exams_and_sleep(shipped: dict[str, Persona]) -> None:
    book = shipped["mom"].character_book
    assert book is not None
    assert any("exam" in t for t in select_lore(book, ["I have an exam tomorrow"], 500).before)
    assert any("exam" in t for t in select_lore(book, ["妈妈，我明天考试"], 500).before)
    assert any("sleep" in t for t in select_lore(book, ["I can't sleep"], 500).before)
    assert select_lore(book, ["for example, this"], 500).before == ()


def test_readme_documents_every_yaml_key() -> None:
    from bot.personas import files

    readme = (PERSONAS / "README.md").read_text(encoding="utf-8")
    for key in sorted(files._ALLOWED):
        assert f"`{key}`" in readme, key


# --- loading a file -----------------------------------------------------------------------


def test_minimal_file_and_defaults(tmp_path: Path) -> None:
    p = load_persona_file(write(tmp_path, "Grandpa Joe.yaml", "name: Grandpa Joe\n"))
    assert p.id == "grandpa-joe"
    assert p.name == "Grandpa Joe"
    assert p.avatar_png is None


def test_explicit_id_wins(tmp_path: Path) -> None:
    p = load_persona_file(write(tmp_path, "a.yaml", "id: gramps\nname: Grandpa\n"))
    assert p.id == "gramps"


def test_aliases_map_to_card_fields(tmp_path: Path) -> None:
    (tmp_path / "face.png").write_bytes(tiny_png())
    text = """
name: Aunt May
avatar: face.png
greetings:
  - Hello, dear.
  - |
    Oh, it's you!
example_dialogue: |
  <START>
  {{user}}: hi
  {{char}}: hello
lorebook:
  scan_depth: 3
  entries:
    - keys: [garden]
      content: She loves her garden.
      position: after_char
sampling:
  temperature: 0.7
"""
    p = load_persona_file(write(tmp_path, "may.yaml", text))
    assert p.first_mes == "Hello, dear."
    assert p.alternate_greetings == ("Oh, it's you!",)
    assert p.mes_example == "<START>\n{{user}}: hi\n{{char}}: hello"
    assert p.character_book is not None
    assert p.character_book.scan_depth == 3
    assert p.character_book.entries[0].keys == ("garden",)
    assert p.character_book.entries[0].position == "after_char"
    assert p.sampling.temperature == 0.7
    assert p.avatar_png == tiny_png()


def test_single_greeting_alias_and_canonical_names(tmp_path: Path) -> None:
    text = "name: A\ngreeting: Hi\nalternate_greetings: [Yo]\nmes_example: '<START>'\n"
    p = load_persona_file(write(tmp_path, "a.yaml", text))
    assert p.greetings == ("Hi", "Yo")
    assert p.mes_example == "<START>"


def test_canonical_character_book(tmp_path: Path) -> None:
    text = "name: A\ncharacter_book:\n  entries:\n    - keys: [x]\n      content: y\n"
    p = load_persona_file(write(tmp_path, "a.yaml", text))
    assert p.character_book is not None
    assert p.character_book.entries[0].content == "y"


def assert_card_error(path: Path, *needles: str) -> str:
    with pytest.raises(CardError) as info:
        load_persona_file(path)
    message = str(info.value)
    assert message.startswith(path.name + ":"), message
    for needle in needles:
        assert needle in message, message
    # short and readable: no pydantic dump, no traceback-like text
    assert "\n" not in message
    assert "pydantic" not in message
    assert "validation error" not in message
    assert len(message) < 200
    return message


def test_bad_yaml(tmp_path: Path) -> None:
    path = write(tmp_path, "broken.yaml", "name: Mom\ngreeting: [unclosed\n")
    assert_card_error(path, "invalid YAML", "line")


def test_yaml_that_is_not_a_mapping(tmp_path: Path) -> None:
    assert_card_error(write(tmp_path, "list.yaml", "- name: Mom\n"), "mapping")
    assert_card_error(write(tmp_path, "empty.yaml", ""), "mapping")


def test_unknown_key_names_the_key_with_a_hint(tmp_path: Path) -> None:
    path = write(tmp_path, "typo.yaml", "name: Mom\ngreting: Hi\n")
    assert_card_error(path, "'greting'", "did you mean 'greeting'")


@pytest.mark.parametrize("key", ["avatar_png", "extra"])
def test_internal_fields_are_not_yaml_keys(tmp_path: Path, key: str) -> None:
    assert_card_error(write(tmp_path, "x.yaml", f"name: A\n{key}: {{}}\n"), f"'{key}'")


@pytest.mark.parametrize(
    ("body", "where", "what"),
    [
        ("name: 123\n", "'name'", "should be text"),
        ("name: A\ntags: hello\n", "'tags'", "should be a list"),
        ("name: A\nsampling:\n  temperature: warm\n", "'sampling.temperature'", "number"),
        ("name: A\nsampling:\n  temprature: 1\n", "'sampling.temprature'", "not a known key"),
        ("name: A\nsampling: hot\n", "'sampling'", "mapping"),
        ("name: A\nlanguage: no\n", "'language'", "should be text"),
        (
            "name: A\nlorebook:\n  entries:\n    - kyes: [a]\n",
            "'lorebook.entries[0].kyes'",
            "not a known key",
        ),
        (
            "name: A\nlorebook:\n  entries:\n    - position: middle\n",
            "'lorebook.entries[0].position'",
            "before_char",
        ),
        ("name: A\nexample_dialogue: [a]\n", "'example_dialogue'", "should be text"),
        ("greeting: Hi\n", "'name'", "is required"),
        ("name: A\ngreetings: [Hi, 3]\n", "'greetings[1]'", "should be text"),
        ("name: A\ngreetings: Hi\n", "'greetings'", "list"),
        ("name: A\navatar: 5\n", "'avatar'", "file name"),
        ("name: A\nid: two words\n", "'id'", "single word"),
        ("name: '  '\n", "'name'", "empty"),
    ],
)
def test_wrong_types_name_file_and_field(tmp_path: Path, body: str, where: str, what: str) -> None:
    assert_card_error(write(tmp_path, "bad.yaml", body), where, what)


def test_conflicting_aliases(tmp_path: Path) -> None:
    path = write(tmp_path, "two.yaml", "name: A\ngreeting: Hi\nfirst_mes: Hello\n")
    assert_card_error(path, "'first_mes'", "'greeting'")
    path = write(tmp_path, "three.yaml", "name: A\ngreetings: [Hi]\nalternate_greetings: [Yo]\n")
    assert_card_error(path, "'alternate_greetings'", "'greetings'")


def test_duplicate_keys_are_rejected(tmp_path: Path) -> None:
    path = write(tmp_path, "dup.yaml", "name: A\ngreeting: Hi\nname: B\n")
    assert_card_error(path, "duplicate key 'name'", "line 3")


def test_missing_avatar(tmp_path: Path) -> None:
    assert_card_error(write(tmp_path, "a.yaml", "name: A\navatar: nope.png\n"), "nope.png")


def test_avatar_that_is_not_a_png(tmp_path: Path) -> None:
    (tmp_path / "face.png").write_bytes(b"GIF89a not really")
    assert_card_error(write(tmp_path, "a.yaml", "name: A\navatar: face.png\n"), "not a PNG")


def test_corrupt_avatar(tmp_path: Path) -> None:
    data = bytearray(tiny_png())
    data[20] ^= 0xFF
    (tmp_path / "face.png").write_bytes(bytes(data))
    assert_card_error(write(tmp_path, "a.yaml", "name: A\navatar: face.png\n"), "'avatar'")


def test_unreadable_file(tmp_path: Path) -> None:
    (tmp_path / "latin.yaml").write_bytes(b"name: \xe9\xff\n")
    assert_card_error(tmp_path / "latin.yaml", "UTF-8")
    assert_card_error(tmp_path / "missing.yaml", "cannot be read")


# --- loading a folder ---------------------------------------------------------------------


def test_one_bad_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "b.yaml", "name: Bea\n")
    write(tmp_path, "a.yaml", "name: Zed\n")
    write(tmp_path, "broken.yaml", "name: [\n")
    write(tmp_path, "typo.yml", "name: T\ngreting: hi\n")
    write(tmp_path, "notes.txt", "ignored")
    write(tmp_path, ".hidden.yaml", "nonsense: [")
    personas, warnings = load_persona_dir(tmp_path)
    assert [p.name for p in personas] == ["Bea", "Zed"]
    assert [p.id for p in personas] == ["b", "a"]
    assert len(warnings) == 2
    assert warnings[0].startswith("broken.yaml:")
    assert warnings[1].startswith("typo.yml:")


def test_missing_folder(tmp_path: Path) -> None:
    personas, warnings = load_persona_dir(tmp_path / "nope")
    assert personas == []
    assert len(warnings) == 1
    assert "not found" in warnings[0]


class FakeCards:
    def __init__(self) -> None:
        self.calls: list[tuple[str | None, str | None]] = []

    def module(self) -> types.ModuleType:
        mod = types.ModuleType(CARDS_MODULE)
        mod.load_card = self.load_card  # type: ignore[attr-defined]
        return mod

    def load_card(
        self, data: bytes, filename: str | None = None, persona_id: str | None = None
    ) -> Any:
        self.calls.append((filename, persona_id))
        if data.startswith(b"boom"):
            raise RuntimeError("importer bug")
        if not data.startswith(b"{"):
            raise CardError("not a character card")
        card = json.loads(data)
        persona = Persona(id=card.get("id", "from-card"), name=card["name"])
        return types.SimpleNamespace(persona=persona, warnings=["newer spec version"])


@pytest.fixture
def fake_cards(monkeypatch: pytest.MonkeyPatch) -> FakeCards:
    fake = FakeCards()
    monkeypatch.setitem(sys.modules, CARDS_MODULE, fake.module())
    return fake


def test_cards_in_the_folder_are_loaded(tmp_path: Path, fake_cards: FakeCards) -> None:
    write(tmp_path, "Captain Nova.json", '{"name": "Nova"}')
    write(tmp_path, "mom.yaml", "name: Mom\n")
    personas, warnings = load_persona_dir(tmp_path)
    assert warnings == []  # notes on a card that loaded are logged, not failures
    assert [(p.id, p.name) for p in personas] == [("mom", "Mom"), ("captain-nova", "Nova")]
    assert fake_cards.calls == [("Captain Nova.json", "captain-nova")]


def test_card_id_is_the_file_stem_even_if_the_importer_ignores_it(
    tmp_path: Path, fake_cards: FakeCards
) -> None:
    write(tmp_path, "aurora.json", '{"name": "Aurora", "id": "something-else"}')
    personas, _ = load_persona_dir(tmp_path)
    assert [p.id for p in personas] == ["aurora"]


def test_bad_cards_become_warnings(tmp_path: Path, fake_cards: FakeCards) -> None:
    write(tmp_path, "good.json", '{"name": "Good"}')
    write(tmp_path, "bad.charx", "PK not a zip")
    write(tmp_path, "crash.json", "boom")
    personas, warnings = load_persona_dir(tmp_path)
    assert [p.name for p in personas] == ["Good"]
    assert warnings[0] == "bad.charx: not a character card"
    assert warnings[1].startswith("crash.json: could not be read (RuntimeError")


def test_avatar_pngs_are_not_cards(tmp_path: Path, fake_cards: FakeCards) -> None:
    (tmp_path / "face.png").write_bytes(tiny_png())  # referenced avatar
    (tmp_path / "broken.png").write_bytes(tiny_png())  # same stem as a broken YAML file
    (tmp_path / "banner.png").write_bytes(tiny_png())  # just an image, no card chunk
    write(tmp_path, "may.yaml", "name: May\navatar: face.png\n")
    write(tmp_path, "broken.yaml", "name: [\n")
    personas, warnings = load_persona_dir(tmp_path)
    assert [p.name for p in personas] == ["May"]
    assert len(warnings) == 1
    assert warnings[0].startswith("broken.yaml:")
    assert fake_cards.calls == []


def test_png_with_a_card_chunk_goes_to_the_importer(tmp_path: Path, fake_cards: FakeCards) -> None:
    from bot.personas.png import write_text_chunks

    (tmp_path / "nova.png").write_bytes(write_text_chunks(tiny_png(), {"chara": "e30="}))
    _, warnings = load_persona_dir(tmp_path)
    assert fake_cards.calls == [("nova.png", "nova")]
    assert warnings == ["nova.png: not a character card"]  # the fake only reads JSON


def test_duplicate_ids_keep_the_yaml_persona(tmp_path: Path, fake_cards: FakeCards) -> None:
    write(tmp_path, "mom.yaml", "name: Mom\n")
    write(tmp_path, "mom.json", '{"name": "Other Mom"}')
    personas, warnings = load_persona_dir(tmp_path)
    assert [p.name for p in personas] == ["Mom"]
    assert warnings == ["mom.json: id 'mom' is already used by mom.yaml; skipped"]


def test_cards_without_the_importer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, CARDS_MODULE, None)
    write(tmp_path, "nova.json", '{"name": "Nova"}')
    write(tmp_path, "mom.yaml", "name: Mom\n")
    personas, warnings = load_persona_dir(tmp_path)
    assert [p.id for p in personas] == ["mom"]
    assert len(warnings) == 1
    assert warnings[0].startswith("nova.json:")
    assert "not supported" in warnings[0]


def test_real_card_importer_if_installed(tmp_path: Path) -> None:
    pytest.importorskip(CARDS_MODULE)
    card = {
        "spec": "chara_card_v2",
        "spec_version": "2.0",
        "data": {
            "name": "Aurora",
            "description": "A test character.",
            "personality": "",
            "scenario": "",
            "first_mes": "Hello!",
            "mes_example": "",
            "creator_notes": "",
            "system_prompt": "",
            "post_history_instructions": "",
            "alternate_greetings": [],
            "tags": [],
            "creator": "",
            "character_version": "",
            "extensions": {},
        },
    }
    write(tmp_path, "aurora.json", json.dumps(card))
    personas, warnings = load_persona_dir(tmp_path)
    assert warnings == []
    assert [(p.id, p.name, p.first_mes) for p in personas] == [("aurora", "Aurora", "Hello!")]

from __future__ import annotations

import base64
import io
import json
import zipfile
from pathlib import Path
from typing import Any, Literal

import pytest

from bot.errors import CardError
from bot.personas.cards import CardImport, export_card, load_card
from bot.personas.model import (
    Asset,
    Lorebook,
    LoreEntry,
    LorePosition,
    Persona,
    Sampling,
)
from bot.personas.png import (
    iter_chunks,
    placeholder_png,
    read_text_chunks,
    strip_card_chunks,
    write_text_chunks,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "cards"
CARD_FILES = sorted(p.name for p in FIXTURES.glob("tk_*"))
NONSTANDARD = "tk_v2_overrides_nonstandard.json"
FORMATS: tuple[Literal["v2", "v3", "png"], ...] = ("v2", "v3", "png")


def load_fixture(name: str) -> CardImport:
    return load_card((FIXTURES / name).read_bytes(), filename=name)


def fixture_json(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name).read_text("utf-8"))
    return data


def card_bytes(card: Any) -> bytes:
    return json.dumps(card).encode("utf-8")


def png_card(texts: dict[str, str]) -> bytes:
    return write_text_chunks(placeholder_png(8), texts)


def b64json(card: Any) -> str:
    return base64.b64encode(json.dumps(card).encode("utf-8")).decode("ascii")


def minimal(**data: Any) -> dict[str, Any]:
    return {"spec": "chara_card_v2", "spec_version": "2.0", "data": {"name": "Ann", **data}}


def rich_persona(**update: Any) -> Persona:
    """Every field set to a non-default value, so a lossy mapping anywhere shows up."""
    entry_a = LoreEntry(
        keys=("dragon", "wyrm"),
        content="Dragons hoard gold.",
        enabled=False,
        insertion_order=7,
        case_sensitive=True,
        constant=True,
        selective=True,
        secondary_keys=("gold",),
        position=LorePosition.AFTER_CHAR,
        priority=3,
        use_regex=True,
        id="entry-a",
        name="Dragons",
        comment="a comment",
        extensions={"position": 4, "depth": 2, "role": 1, "kindred": {"future": 1}},
        extra={"uid": 9, "displayIndex": 0},
    )
    entry_b = LoreEntry(keys=("/moon/i",), content="The moon is a lie.", id=2)
    book = Lorebook(
        name="Lore",
        description="World facts",
        scan_depth=4,
        token_budget=300,
        recursive_scanning=False,
        entries=(entry_a, entry_b),
        extensions={"st/book": {"x": [1, 2]}},
        extra={"originalName": "lore.json"},
    )
    avatar = write_text_chunks(placeholder_png(16, (200, 10, 10)), {"Title": "portrait"})
    persona = Persona(
        id="mira-2",
        name="Mira",
        nickname="Mimi",
        description="A ✨ witch — 魔女.",
        personality="sly",
        scenario="A tavern.",
        first_mes="Hello {{user}}.",
        alternate_greetings=("Hi.", "Yo."),
        group_only_greetings=("Hello all.",),
        mes_example="<START>\n{{user}}: hi\n{{char}}: hey",
        system_prompt="Be {{char}}. {{original}}",
        post_history_instructions="Stay in character. {{original}}",
        creator_notes="notes",
        creator_notes_multilingual={"en": "notes", "ja": "ノート"},
        creator="tester",
        character_version="2.1",
        tags=("witch", "fantasy"),
        source=("https://example.com/mira",),
        creation_date=1_700_000_000,
        modification_date=1_700_000_500,
        assets=(
            Asset(type="background", uri="https://example.com/bg.png", name="bg", ext="png"),
            Asset(type="emotion", uri="embeded://assets/happy.png", name="happy", ext="png"),
        ),
        character_book=book,
        extensions={"tavern_kit/test": {"round_trip": True}, "depth_prompt": {"depth": 4}},
        extra={"unknown_field": [1, {"a": None}], "talkativeness": "0.5"},
        language="de",
        sampling=Sampling(
            model="gpt-x",
            temperature=0.85,
            top_p=0.9,
            max_tokens=321,
            frequency_penalty=0.1,
            presence_penalty=-0.2,
        ),
        avatar_png=avatar,
        apology="Sorry, {{user}}, my crystal ball is cloudy.",
        voice="shimmer",
    )
    return persona.model_copy(update=update)


def roundtrip(persona: Persona, fmt: Literal["v2", "v3", "png"]) -> CardImport:
    return load_card(export_card(persona, fmt))


# --- every fixture imports -----------------------------------------------------------------


def test_all_fixture_files_are_present() -> None:
    assert len(CARD_FILES) == 8
    assert (FIXTURES / "LICENSE-tavern_kit-MIT.txt").is_file()


@pytest.mark.parametrize("name", CARD_FILES)
def test_fixture_imports(name: str) -> None:
    result = load_fixture(name)
    assert result.persona.name
    if name == NONSTANDARD:
        assert len(result.warnings) == 2
        assert all("after_char_defs" in w for w in result.warnings)
    else:
        assert result.warnings == ()


def test_minimal_v2() -> None:
    p = load_fixture("tk_minimal_v2.json").persona
    assert p.id == "test-character-v2"
    assert p.name == "Test Character V2"
    assert p.first_mes == "Hello! I'm a test character. How can I help?"
    assert p.alternate_greetings == ("Hi there! Ready for testing?",)
    assert p.tags == ("test", "unit-test", "v2")
    assert p.extensions == {}
    assert p.extra == {}
    assert p.character_book is None
    assert p.avatar_png is None


def test_full_v2_keeps_unknown_extensions() -> None:
    p = load_fixture("tk_full_v2.json").persona
    assert p.extensions == {
        "tavern_kit/test": {"round_trip": True},
        "custom_field": "should be preserved",
    }
    assert p.system_prompt == "You are {{char}}, a mystical oracle."
    assert p.post_history_instructions == "Speak in riddles and prophecies."
    assert p.character_book is not None
    assert p.character_book.name == "Oracle's Lore"
    assert p.character_book.entries[0].keys == ("crystal tower",)
    assert p.character_book.entries[0].position is LorePosition.BEFORE_CHAR


def test_nonstandard_v2_is_read_leniently() -> None:
    p = load_fixture(NONSTANDARD).persona
    assert p.system_prompt == "You are {{char}}. {{original}}"
    book = p.character_book
    assert book is not None
    assert (book.scan_depth, book.token_budget, book.recursive_scanning) == (5, 500, True)
    assert book.description == "Background information about Bob"
    assert [e.position for e in book.entries] == [LorePosition.AFTER_CHAR] * 2
    assert [e.extra for e in book.entries] == [{"uid": 1}, {"uid": 2}]
    assert [e.comment for e in book.entries] == ["Magic lore entry", "Origin lore entry"]
    assert p.extensions == {"preserve_me": True}


def test_full_v3() -> None:
    p = load_fixture("tk_full_v3.json").persona
    assert p.nickname == "Captain Nova"
    assert p.display_name == "Captain Nova"
    assert p.group_only_greetings == (
        "Crew, assemble on the bridge.",
        "Team, we have a mission briefing.",
    )
    assert p.assets == (
        Asset(type="icon", uri="ccdefault:assets/icon.png", name="main", ext="png"),
    )
    assert p.creator_notes_multilingual["ja"] == "すべての仕様フィールドを持つV3カード。"
    assert p.source == ("https://example.com/nova",)
    assert (p.creation_date, p.modification_date) == (1703462400, 1703548800)
    assert p.extensions == {"tavern_kit/v3_test": {"verified": True}}
    assert p.avatar_png is None  # ccdefault: cannot be resolved from JSON
    assert p.character_book is not None
    assert p.character_book.entries[0].use_regex is False


def test_v3_lorebook_entries() -> None:
    p = load_fixture("tk_v3_with_lorebook.json").persona
    assert p.character_book is not None
    first, second = p.character_book.entries
    assert (first.id, first.name, first.priority, first.comment) == (
        1,
        "Test Entry 1",
        10,
        "First test entry",
    )
    assert first.selective is False
    assert first.position is LorePosition.BEFORE_CHAR
    assert second.selective is True
    assert second.secondary_keys == ("conditional key",)
    assert second.position is LorePosition.AFTER_CHAR
    assert (second.priority, second.insertion_order) == (5, 200)
    assert first.use_regex is False  # absent in the fixture: default
    assert first.extra == {}
    assert second.extra == {}


def test_png_with_both_chunks_prefers_ccv3() -> None:
    p = load_fixture("tk_chara_and_ccv3.png").persona
    assert p.name == "Test Character"
    assert p.nickname == "TestChar"  # only in the ccv3 payload
    assert p.assets == (
        Asset(type="icon", uri="embeded://assets/main.png", name="main", ext="png"),
    )
    # the chara payload's cc_extractor extension must not leak in
    assert p.extensions == {}
    assert p.avatar_png is not None
    assert p.avatar_png == strip_card_chunks((FIXTURES / "tk_chara_and_ccv3.png").read_bytes())
    assert [k for k, _ in read_text_chunks(p.avatar_png)] == ["Title", "Author"]


def test_png_v2_only() -> None:
    p = load_fixture("tk_chara_only_v2.png").persona
    assert p.name == "V2 Test Character"
    assert p.first_mes == "Hello from V2!"
    assert p.nickname is None
    assert p.avatar_png is not None
    assert p.avatar_png.startswith(b"\x89PNG\r\n\x1a\n")


def test_charx_resolves_embedded_icon() -> None:
    p = load_fixture("tk_v3_with_lorebook.charx").persona
    assert p.name == "Lorebook Test Character"
    assert p.nickname == "TestChar"
    with zipfile.ZipFile(FIXTURES / "tk_v3_with_lorebook.charx") as archive:
        main = archive.read("assets/main.png")
    assert p.avatar_png == main
    assert p.avatar_png.startswith(b"\x89PNG\r\n\x1a\n")
    assert p.character_book is not None
    assert [e.case_sensitive for e in p.character_book.entries] == [False, True]
    assert (p.character_book.token_budget, p.character_book.recursive_scanning) == (2048, True)


def test_persona_id_override() -> None:
    result = load_card((FIXTURES / "tk_full_v2.json").read_bytes(), persona_id="oracle")
    assert result.persona.id == "oracle"


# --- round trips ---------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", CARD_FILES)
def test_fixture_round_trip(name: str, fmt: Literal["v2", "v3", "png"]) -> None:
    original = load_fixture(name).persona
    again = roundtrip(original, fmt)
    assert again.warnings == ()
    assert again.persona == original


@pytest.mark.parametrize("fmt", FORMATS)
def test_rich_persona_round_trip(fmt: Literal["v2", "v3", "png"]) -> None:
    persona = rich_persona()
    again = roundtrip(persona, fmt)
    assert again.warnings == ()
    assert again.persona == persona
    # Twice, to catch anything that only survives one trip.
    assert roundtrip(again.persona, fmt).persona == persona


VARIANTS: dict[str, dict[str, Any]] = {
    "no_avatar": {"avatar_png": None},
    "jpeg_avatar": {"avatar_png": b"\xff\xd8\xff\xe0fake-jpeg"},
    "avatar_with_card_chunks": {
        "avatar_png": write_text_chunks(placeholder_png(4), {"chara": "eyJ4IjoxfQ=="})
    },
    "corrupt_png_avatar": {"avatar_png": placeholder_png(4)[:-5] + b"XXXXX"},
    "main_icon_is_other_data_uri": {
        "assets": (Asset(type="icon", uri="data:image/png;base64,AAAA", name="main", ext="png"),)
    },
    "main_icon_is_avatar": {
        "assets": (
            Asset(
                type="icon",
                uri="data:image/png;base64," + base64.b64encode(placeholder_png(2)).decode(),
                name="main",
                ext="png",
            ),
        ),
        "avatar_png": placeholder_png(2),
    },
    "data_icon_but_no_avatar": {
        "assets": (Asset(type="icon", uri="data:image/png;base64,AAAA", name="x", ext="png"),),
        "avatar_png": None,
    },
    "minimal_kindred": {
        "id": "mira",
        "language": None,
        "apology": None,
        "voice": None,
        "sampling": Sampling(),
        "extensions": {},
        "extra": {},
        "character_book": None,
        "nickname": None,
        "group_only_greetings": (),
    },
    "leftover_kindred_keys": {"extensions": {"kindred": {"from_the_future": [1, 2]}}},
}


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_variant_round_trip(variant: str, fmt: Literal["v2", "v3", "png"]) -> None:
    persona = rich_persona(**VARIANTS[variant])
    persona = Persona.model_validate(persona.model_dump())  # re-validate the update
    again = roundtrip(persona, fmt)
    assert again.warnings == ()
    assert again.persona == persona


def test_v2_export_parks_v3_fields_in_kindred() -> None:
    card = json.loads(export_card(rich_persona(), "v2"))
    assert card["spec"] == "chara_card_v2"
    assert card["spec_version"] == "2.0"
    data = card["data"]
    for v3_only in ("nickname", "group_only_greetings", "assets", "source", "creation_date"):
        assert v3_only not in data
    kindred = data["extensions"]["kindred"]
    assert kindred["nickname"] == "Mimi"
    assert kindred["group_only_greetings"] == ["Hello all."]
    assert kindred["source"] == ["https://example.com/mira"]
    assert kindred["modification_date"] == 1_700_000_500
    assert kindred["creator_notes_multilingual"] == {"en": "notes", "ja": "ノート"}
    assert kindred["assets"][0]["uri"] == "https://example.com/bg.png"
    assert kindred["language"] == "de"
    assert kindred["id"] == "mira-2"
    assert kindred["sampling"]["temperature"] == 0.85
    assert kindred["apology"].startswith("Sorry")
    assert kindred["voice"] == "shimmer"
    assert kindred["avatar_png"].startswith("data:image/png;base64,")
    entry = data["character_book"]["entries"][0]
    assert "use_regex" not in entry
    assert entry["extensions"]["kindred"] == {"future": 1, "use_regex": True}
    assert entry["extensions"]["position"] == 4  # ST's numeric position stays put
    assert entry["uid"] == 9
    assert data["unknown_field"] == [1, {"a": None}]
    assert data["extensions"]["tavern_kit/test"] == {"round_trip": True}


def test_v3_export_adds_main_icon_asset_for_avatar() -> None:
    persona = rich_persona()
    raw = export_card(persona, "v3")
    assert "魔女" in raw.decode("utf-8")  # ensure_ascii=False
    data = json.loads(raw)["data"]
    assert json.loads(raw)["spec"] == "chara_card_v3"
    assert json.loads(raw)["spec_version"] == "3.0"
    icon = data["assets"][0]
    assert (icon["type"], icon["name"], icon["ext"]) == ("icon", "main", "png")
    assert persona.avatar_png is not None
    assert base64.b64decode(icon["uri"].split(",", 1)[1]) == persona.avatar_png
    assert data["nickname"] == "Mimi"
    assert data["character_book"]["entries"][0]["use_regex"] is True
    assert data["extensions"]["kindred"]["avatar_asset"] is True
    assert "avatar_png" not in data["extensions"]["kindred"]


def test_v3_export_of_fixture_is_spec_clean() -> None:
    data = json.loads(export_card(load_fixture("tk_full_v3.json").persona, "v3"))["data"]
    source = fixture_json("tk_full_v3.json")["data"]
    assert data["extensions"] == source["extensions"]  # no kindred namespace needed
    assert data["assets"] == source["assets"]
    for key in ("nickname", "group_only_greetings", "source", "creation_date"):
        assert data[key] == source[key]


def test_png_export_is_valid_and_carries_both_chunks() -> None:
    persona = rich_persona()
    out = export_card(persona, "png")
    chunks = list(iter_chunks(out))  # raises on any CRC error
    assert chunks[0].type == "IHDR"
    assert chunks[-1].type == "IEND"
    texts = dict(read_text_chunks(out))
    assert set(texts) == {"Title", "chara", "ccv3"}
    chara = json.loads(base64.b64decode(texts["chara"]))
    ccv3 = json.loads(base64.b64decode(texts["ccv3"]))
    assert (chara["spec"], chara["spec_version"]) == ("chara_card_v2", "2.0")
    assert (ccv3["spec"], ccv3["spec_version"]) == ("chara_card_v3", "3.0")
    assert chara["data"]["name"] == ccv3["data"]["name"] == "Mira"
    # the image itself is the avatar: no copy inside the JSON
    assert "avatar_png" not in ccv3["data"]["extensions"]["kindred"]
    assert strip_card_chunks(out) == persona.avatar_png


def test_png_export_without_avatar_uses_placeholder() -> None:
    persona = rich_persona(avatar_png=None)
    out = export_card(persona, "png")
    assert strip_card_chunks(out) == placeholder_png()
    again = load_card(out).persona
    assert again.avatar_png is None


def test_png_export_of_fixture_keeps_the_image() -> None:
    persona = load_fixture("tk_chara_and_ccv3.png").persona
    out = export_card(persona, "png")
    assert persona.avatar_png is not None
    assert strip_card_chunks(out) == persona.avatar_png
    assert len(out) < len(persona.avatar_png) + 4000  # the avatar is not duplicated in JSON


# --- other formats and leniency ------------------------------------------------------------


def test_v1_card() -> None:
    card = {
        "name": "Old Timer",
        "description": "d",
        "personality": "p",
        "scenario": "s",
        "first_mes": "f",
        "mes_example": "m",
        "talkativeness": "0.5",
    }
    result = load_card(card_bytes(card))
    p = result.persona
    assert (p.id, p.name, p.description, p.first_mes) == ("old-timer", "Old Timer", "d", "f")
    assert p.extra == {"talkativeness": "0.5"}
    assert result.warnings == ()
    for fmt in FORMATS:
        assert roundtrip(p, fmt).persona == p


def test_pygmalion_card() -> None:
    card = {
        "char_name": "Pyg",
        "char_persona": "persona text",
        "char_greeting": "hello",
        "world_scenario": "a world",
        "example_dialogue": "You: hi",
    }
    p = load_card(card_bytes(card), filename="pyg.json").persona
    assert (p.name, p.description, p.first_mes, p.scenario, p.mes_example) == (
        "Pyg",
        "persona text",
        "hello",
        "a world",
        "You: hi",
    )
    assert p.extra == {}


def test_newer_spec_version_warns() -> None:
    card = {"spec": "chara_card_v3", "spec_version": "3.5", "data": {"name": "Z", "new": 1}}
    result = load_card(card_bytes(card))
    assert result.persona.extra == {"new": 1}
    assert len(result.warnings) == 1
    assert "3.5 is newer" in result.warnings[0]


def test_data_wins_over_root_mirror() -> None:
    card = minimal(description="from data")
    card.update({"name": "Root Name", "description": "from root"})
    p = load_card(card_bytes(card)).persona
    assert (p.name, p.description) == ("Ann", "from data")


def test_nulls_are_read_as_empty() -> None:
    p = load_card(card_bytes(minimal(description=None, tags=None, character_book=None))).persona
    assert (p.description, p.tags, p.character_book) == ("", (), None)


def test_numeric_character_version_is_tolerated() -> None:
    assert load_card(card_bytes(minimal(character_version=1.5))).persona.character_version == (
        "1.5"
    )


def test_numeric_st_position_maps_with_warning() -> None:
    book = {"entries": [{"keys": ["a"], "content": "x", "position": 1}]}
    result = load_card(card_bytes(minimal(character_book=book)))
    assert result.persona.character_book is not None
    assert result.persona.character_book.entries[0].position is LorePosition.AFTER_CHAR
    assert "read as 'after_char'" in result.warnings[0]


def test_bom_and_whitespace_are_tolerated() -> None:
    raw = b"\xef\xbb\xbf \n" + card_bytes(minimal())
    assert load_card(raw).persona.name == "Ann"


def test_corrupt_ccv3_falls_back_to_chara_with_warning() -> None:
    data = png_card({"chara": b64json(minimal()), "ccv3": "!!!not base64!!!"})
    result = load_card(data)
    assert result.persona.name == "Ann"
    assert "'ccv3' chunk is not valid base64" in result.warnings[0]


def test_kindred_fields_are_decoded() -> None:
    kindred = {"language": "fr", "sampling": {"temperature": 0.3, "seed": 5}, "apology": "oops"}
    result = load_card(card_bytes(minimal(extensions={"kindred": kindred, "other": 1})))
    p = result.persona
    assert (p.language, p.apology, p.sampling.temperature) == ("fr", "oops", 0.3)
    assert p.extensions == {"other": 1}
    assert result.warnings == ("data.extensions.kindred.sampling: ignored unknown setting(s) seed",)


# --- errors ------------------------------------------------------------------------------


def _raises(data: bytes, phrase: str, filename: str | None = None) -> str:
    with pytest.raises(CardError) as info:
        load_card(data, filename=filename)
    message = str(info.value)
    assert phrase in message
    assert "Traceback" not in message
    assert "validation error" not in message
    return message


def _charx(files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as archive:
        for name, content in files.items():
            archive.writestr(name, content)
    return buf.getvalue()


def test_truncated_png() -> None:
    data = (FIXTURES / "tk_chara_and_ccv3.png").read_bytes()[:70_000]
    _raises(data, "PNG chunk 'IDAT' is truncated")


def test_png_with_flipped_crc_byte() -> None:
    data = bytearray(png_card({"chara": b64json(minimal())}))
    data[-13] ^= 0x10  # last byte of the chara chunk's CRC
    _raises(bytes(data), "PNG CRC mismatch in chunk 'tEXt'")


def test_png_without_card_chunks() -> None:
    _raises(placeholder_png(), "PNG has no 'chara' or 'ccv3' text chunk — it is an image")
    _raises(png_card({"Title": "just a picture"}), "it is an image, not a character card")


def test_png_signature_only() -> None:
    _raises(b"\x89PNG\r\n\x1a\n", "PNG has no chunks")


def test_invalid_base64() -> None:
    _raises(png_card({"ccv3": "this is ~not~ base64"}), "'ccv3' chunk is not valid base64")
    _raises(png_card({"chara": "abc$"}), "'chara' chunk is not valid base64")


def test_chunk_with_invalid_json() -> None:
    bad = base64.b64encode(b'{"spec": ').decode()
    _raises(png_card({"chara": bad}), "'chara' chunk is not valid JSON (line 1, column 10)")


def test_invalid_json_reports_position() -> None:
    raw = b'{\n  "spec": "chara_card_v2",\n  "data": {,}\n}'
    _raises(raw, "card is not valid JSON (line 3, column 12)")


def test_json_without_name() -> None:
    _raises(
        card_bytes({"spec": "chara_card_v2", "data": {"description": "x"}}),
        ("card has no name (data.name is missing or empty)"),
    )
    _raises(card_bytes(minimal(name="  ")), "card has no name (data.name is missing or empty)")
    _raises(card_bytes({"description": "v1 without name"}), "card has no name (name is missing")


def test_zip_without_card_json() -> None:
    _raises(_charx({"assets/main.png": placeholder_png()}), "CHARX archive has no card.json")


def test_charx_with_bad_card_json() -> None:
    _raises(_charx({"card.json": b"{oops"}), "CHARX card.json is not valid JSON (line 1")


def test_corrupt_zip() -> None:
    _raises(b"PK\x03\x04" + b"\x00" * 40, "CHARX archive is corrupt")


def test_charx_with_missing_icon_warns() -> None:
    card = {
        "spec": "chara_card_v3",
        "spec_version": "3.0",
        "data": {
            "name": "Z",
            "assets": [
                {"type": "icon", "uri": "embeded://assets/x.png", "name": "main", "ext": "png"}
            ],
        },
    }
    result = load_card(_charx({"card.json": card_bytes(card)}))
    assert result.persona.avatar_png is None
    assert result.warnings == ("CHARX icon 'assets/x.png' is missing from the archive",)


def test_random_bytes() -> None:
    _raises(bytes(range(7, 200)), "unrecognised card format (expected PNG, CHARX or JSON)")


def test_empty_bytes() -> None:
    _raises(b"", "card file is empty")


def test_filename_sharpens_the_message() -> None:
    _raises(b"hello", "not a PNG file", filename="card.PNG")
    _raises(b"hello", "not valid JSON (line 1, column 1)", filename="card.json")
    _raises(b"hello", "not a CHARX file", filename="card.charx")


@pytest.mark.parametrize(
    ("data", "phrase"),
    [
        ({"alternate_greetings": "hi"}, "data.alternate_greetings must be a list of strings"),
        ({"alternate_greetings": ["hi", 3]}, "data.alternate_greetings must be a list of strings"),
        ({"tags": {"a": 1}}, "data.tags must be a list of strings"),
        ({"description": ["x"]}, "data.description must be a string, not a list"),
        ({"name": 42}, "data.name must be a string, not a number"),
        ({"extensions": []}, "data.extensions must be an object, not a list"),
        ({"character_book": "lore"}, "data.character_book must be an object, not a string"),
        ({"character_book": {"entries": {}}}, "data.character_book.entries must be a list"),
        (
            {"character_book": {"entries": [{"keys": "a"}]}},
            "data.character_book.entries[0].keys must be a list of strings",
        ),
        (
            {"character_book": {"entries": [{"keys": ["a"], "insertion_order": "soon"}]}},
            "data.character_book.entries[0].insertion_order is invalid: Input should be a valid",
        ),
        ({"creation_date": "yesterday"}, "data.creation_date is invalid"),
        ({"assets": [{"type": "icon"}]}, "data.assets[0].uri is missing or empty"),
        (
            {"extensions": {"kindred": {"sampling": {"temperature": "hot"}}}},
            "data.extensions.kindred.sampling.temperature is invalid",
        ),
        (
            {"extensions": {"kindred": {"avatar_png": "https://x/y.png"}}},
            "data.extensions.kindred.avatar_png must be a base64 data: URI",
        ),
        ({"creator_notes_multilingual": {"en": 1}}, "data.creator_notes_multilingual.en"),
    ],
)
def test_wrong_field_types(data: dict[str, Any], phrase: str) -> None:
    _raises(card_bytes(minimal(**data)), phrase)


@pytest.mark.parametrize(
    ("card", "phrase"),
    [
        ({"spec": "foo", "data": {"name": "x"}}, "unsupported card spec 'foo'"),
        ({"spec": ["x"], "data": {"name": "x"}}, "unsupported card spec ['x']"),
        ({"spec": "lorebook_v3", "data": {}}, "standalone lorebook"),
        ({"spec": "chara_card_v2", "data": "x"}, "card has no data object"),
        ([1, 2], "card JSON must be an object, not a list"),
    ],
)
def test_bad_card_shapes(card: Any, phrase: str) -> None:
    _raises(card_bytes(card), phrase)


def test_export_rejects_unknown_format() -> None:
    with pytest.raises(CardError, match="unknown export format"):
        export_card(rich_persona(), "yaml")  # type: ignore[arg-type]


def test_export_rejects_non_json_extensions() -> None:
    with pytest.raises(CardError, match="non-JSON data"):
        export_card(rich_persona(extensions={"x": b"bytes"}), "v2")

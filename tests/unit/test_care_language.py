"""The referral's language, lines and text (bot/safety/language.py, lines.py, referral.py)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from bot.errors import ConfigError
from bot.safety.language import detect
from bot.safety.lines import DEFAULT_LINES, INTERNATIONAL, LANGUAGE_REGION, LinesTable
from bot.safety.referral import TEXTS, referral_text

SAMPLES = {
    "en": "I just want to sleep and never wake up, nobody would even notice",
    "es": "ya no puedo más, quiero morir y nadie me entiende",
    "pt": "não aguento mais, quero morrer, ninguém se importa comigo",
    "fr": "je n'en peux plus, j'ai envie de mourir et personne ne le voit",
    "de": "ich kann nicht mehr, ich will einfach nur sterben",
    "id": "aku capek banget, rasanya pengen mati saja",
    "ja": "もう疲れた。消えてしまいたい",
    "ko": "너무 힘들어서 죽고 싶어",
    "zh-Hans": "我真的不想活了，没有人会在乎我",
    "zh-Hant": "我真的不想活了，沒有人會在乎我",
}


@pytest.mark.parametrize(("lang", "text"), SAMPLES.items())
def test_the_language_is_told_from_the_text(lang: str, text: str) -> None:
    assert detect(text) == lang


def test_the_platform_language_decides_what_the_text_cannot() -> None:
    assert detect("ok", "pt-BR") == "pt"
    assert detect("???", "in") == "id"  # Android's old code for Indonesian
    assert detect("不想活", "zh-TW") == "zh-Hant"  # no telling characters: the hint
    assert detect("不想活") == "zh-Hans"
    assert detect("12345") is None
    assert detect("12345", "xx-YY") is None


def test_detection_is_cheap_even_on_a_huge_message() -> None:
    texts = list(SAMPLES.values())
    start = time.perf_counter()
    for _ in range(200):
        for t in texts:
            detect(t)
    per_message_us = (time.perf_counter() - start) / (200 * len(texts)) * 1e6
    start = time.perf_counter()
    detect("palabra " * 100_000)  # 800 KB: only the first SCAN characters are read
    huge_ms = (time.perf_counter() - start) * 1e3
    print(f"language detection: {per_message_us:.1f} µs/message, 800 KB: {huge_ms:.2f} ms")
    assert per_message_us < 2000 and huge_ms < 50  # generous: a loaded 2-core machine


def test_every_language_has_a_text_and_a_region_with_lines() -> None:
    for lang, region in LANGUAGE_REGION.items():
        assert lang in TEXTS
        assert DEFAULT_LINES[region], region
    assert all(line.url.startswith("http") for lines in DEFAULT_LINES.values() for line in lines)


def test_the_referral_speaks_the_language_and_lists_the_regions_lines() -> None:
    table = LinesTable()
    es = referral_text("es", table.lines(table.region_for("es")))
    assert "024" in es and "No tienes que afrontarlo" in es
    de = referral_text("de", table.lines(table.region_for("de")))
    assert "0800 111 0 111" in de and "0800 111 0 222" in de
    ko = referral_text("ko", table.lines(table.region_for("ko")))
    assert "109" in ko
    # The operator's region wins over the language; an unknown region gets the directory.
    assert "988" in referral_text("es", table.lines(table.region_for("es", "us")))
    assert INTERNATIONAL.number in referral_text("en", table.lines("ZZ"))
    # The operator's own text replaces the lines; an unknown language is English.
    assert "Call 111" in referral_text("xx", table.lines("US"), "Call 111")
    assert referral_text(None, ()).startswith(TEXTS["en"][:20])


def test_the_operators_file_adds_and_replaces_regions(tmp_path: Path) -> None:
    path = tmp_path / "lines.yaml"
    path.write_text(
        "mx:\n  - name: Línea de la Vida\n    number: 800 911 2000\n"
        "ES:\n  - {name: Teléfono de la Esperanza, number: 717 003 717, note: 24 h}\n",
        encoding="utf-8",
    )
    table = LinesTable.load(path)
    assert table.lines("MX")[0].number == "800 911 2000"
    assert [line.number for line in table.lines("ES")] == ["717 003 717"]
    assert table.lines("US") == DEFAULT_LINES["US"]
    js = tmp_path / "lines.json"
    js.write_text(json.dumps({"PT": [{"name": "SNS 24", "number": "808 24 24 24"}]}))
    assert LinesTable.load(js).lines("pt")[0].name == "SNS 24"


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        ("- a\n- b\n", "must map region codes"),
        ("USA:\n  - {name: x, number: '1'}\n", "two-letter region code"),
        ("US: []\n", "needs a list"),
        ("US:\n  - {name: x}\n", "needs a name and a number"),
        ("US: [\n", "not valid JSON/YAML"),
    ],
)
def test_a_broken_file_is_one_line_naming_it(tmp_path: Path, content: str, problem: str) -> None:
    path = tmp_path / "lines.yaml"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        LinesTable.load(path)
    assert problem in str(err.value) and str(path) in str(err.value)


def test_docs_care_lists_every_default_line_with_its_source() -> None:
    """docs/care.md is what operators publish: it must not drift from the table."""
    doc = (Path(__file__).resolve().parents[2] / "docs" / "care.md").read_text(encoding="utf-8")
    for region, lines in DEFAULT_LINES.items():
        for line in lines:
            assert f"| {region} |" in doc, region
            assert line.number in doc, (region, line.number)
            assert line.url.split(" ")[0].rstrip("/") in doc, (region, line.url)

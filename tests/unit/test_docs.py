"""README.md and docs/: every relative link (and #anchor) resolves, the README stays short
and keeps CI's test command, and every `kindred …` example works as written — the README
uses `./scripts/run …`, and each page showing bare `kindred …` says how to put it on PATH."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)")
ACTIVATE = "source .venv/bin/activate"


def outside_code(text: str) -> str:
    """The text without fenced blocks and `code spans` (links there are not links)."""
    text = re.sub(r"^```.*?^```", "", text, flags=re.MULTILINE | re.DOTALL)
    return re.sub(r"`[^`\n]*`", "", text)


def code_lines(text: str) -> list[str]:
    blocks = re.findall(r"^ *```[a-z]*\n(.*?)^ *```", text, flags=re.MULTILINE | re.DOTALL)
    return [ln.strip() for b in blocks for ln in b.splitlines()]


def anchors(path: Path) -> set[str]:
    """GitHub's heading ids: lower case, punctuation dropped, spaces to hyphens, -N for
    repeats."""
    seen: dict[str, int] = {}
    out: set[str] = set()
    body = re.sub(r"^```.*?^```", "", path.read_text(encoding="utf-8"), flags=re.M | re.S)
    for m in re.finditer(r"^#{1,6} (.+)$", body, flags=re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", m.group(1).strip().lower()).replace(" ", "-")
        n = seen.get(slug, 0)
        seen[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_every_relative_link_resolves(page: Path) -> None:
    for target in LINK.findall(outside_code(page.read_text(encoding="utf-8"))):
        if re.match(r"[a-z]+:", target):
            continue  # https:, mailto:
        path, _, anchor = target.partition("#")
        dest = (page.parent / path).resolve() if path else page
        assert dest.exists(), f"{page.name}: {target} does not exist"
        if anchor and dest.suffix == ".md":
            assert anchor in anchors(dest), f"{page.name}: no #{anchor} in {dest.name}"


def test_readme_is_short_and_keeps_the_two_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(text.splitlines()) < 120
    assert "./scripts/run" in text
    assert "./scripts/test" in text  # .ci/run calls scripts/test: the README's command
    assert ACTIVATE in text
    for page in ("telegram", "discord", "personas", "memory", "care", "operations"):
        assert f"(docs/{page}.md" in text, page


def test_readme_examples_run_without_activating_the_venv() -> None:
    lines = code_lines((ROOT / "README.md").read_text(encoding="utf-8"))
    bare = [ln for ln in lines if re.match(r"(\w+=\S+ )*kindred\b", ln)]
    assert not bare, bare


@pytest.mark.parametrize("page", PAGES[1:], ids=lambda p: p.name)
def test_pages_with_bare_kindred_commands_say_how_to_get_it(page: Path) -> None:
    text = page.read_text(encoding="utf-8")
    bare = [ln for ln in code_lines(text) if re.match(r"(\w+=\S+ )*kindred\b", ln)]
    if bare:
        assert ACTIVATE in text, f"{page.name} shows {bare[0]!r}"

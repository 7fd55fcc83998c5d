"""Crisis lines per region: documented defaults, each with the page that documents it, and
an operator's file that adds or replaces regions (``KINDRED_SAFETY__CRISIS_LINES_FILE``).

The region is the operator's setting (``KINDRED_SAFETY__REGION``, ISO 3166 alpha-2) or
else the one the person's language points to (``LANGUAGE_REGION``: Spanish is Spain's
024, Portuguese Brazil's CVV — an operator serving Mexico or Portugal sets the region or
adds it to the file). A region with no entry gets the international directory.

``verified`` says whether the number was checked against its source for this release
(docs/care.md lists the dates); an operator should check their own region's lines before
publishing, since numbers change (Korea merged its lines into 109 in 2024, China opened
12356 in 2025).

The operator's file is JSON or YAML: a mapping of region code to a list of lines, each
``{name, number, note?, url?}``; a region listed there replaces the default one::

    MX:
      - name: Línea de la Vida
        number: 800 911 2000
        url: https://www.gob.mx/salud/conadic
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from bot.errors import ConfigError

MAX_FILE_BYTES = 256 * 1024
MAX_LINES_PER_REGION = 6


@dataclass(frozen=True, slots=True)
class CrisisLine:
    name: str
    number: str
    note: str = ""  # when, how (text, chat), in which language — shown after the number
    url: str = ""  # where it is documented (the source), shown to operators in docs/care.md
    verified: bool = True


INTERNATIONAL = CrisisLine(
    "Find A Helpline (lines in over 130 countries)",
    "https://findahelpline.com",
    url="https://findahelpline.com",
)

DEFAULT_LINES: dict[str, tuple[CrisisLine, ...]] = {
    "US": (
        CrisisLine(
            "988 Suicide & Crisis Lifeline",
            "988",
            "call or text, 24/7",
            "https://988lifeline.org",
        ),
    ),
    "CA": (
        CrisisLine("9-8-8 Suicide Crisis Helpline", "988", "call or text, 24/7", "https://988.ca"),
    ),
    "GB": (
        CrisisLine(
            "Samaritans", "116 123", "free, 24/7", "https://www.samaritans.org", verified=False
        ),
    ),
    "IE": (
        CrisisLine(
            "Samaritans Ireland",
            "116 123",
            "free, 24/7",
            "https://www.samaritans.org/ireland",
            verified=False,
        ),
    ),
    "ES": (
        CrisisLine(
            "Línea 024 de atención a la conducta suicida",
            "024",
            "gratuita, 24 h",
            "https://www.sanidad.gob.es/linea024/",
        ),
    ),
    "BR": (
        CrisisLine(
            "CVV — Centro de Valorização da Vida",
            "188",
            "gratuito, 24 h; chat em cvv.org.br",
            "https://cvv.org.br",
        ),
    ),
    "ID": (
        CrisisLine(
            "Layanan kesehatan jiwa Kemenkes",
            "119 ext. 8",
            "atau healing119.id",
            "https://kesprimkom.kemkes.go.id/konten/158/151/0/cegah-bunuh-diri-dukung-kesehatan-jiwa-kenali-layanan-healing119-id",
        ),
    ),
    "CN": (
        CrisisLine(
            "全国心理援助热线",
            "12356",
            "",
            "http://www.nhc.gov.cn (国家卫生健康委, 2024-12-25 公告)",
        ),
    ),
    "TW": (
        CrisisLine(
            "衛福部 1925 安心專線",
            "1925",
            "24 小時免付費",
            "https://www.mohw.gov.tw",
        ),
    ),
    "JP": (
        CrisisLine(
            "よりそいホットライン",
            "0120-279-338",
            "24時間・無料",
            "https://www.mhlw.go.jp/mamorouyokokoro/",
        ),
        CrisisLine(
            "いのちの電話",
            "0120-783-556",
            "無料",
            "https://www.mhlw.go.jp/mamorouyokokoro/",
        ),
    ),
    "KR": (
        CrisisLine(
            "자살예방상담전화",
            "109",
            "24시간",
            "https://www.mohw.go.kr",
        ),
    ),
    "FR": (
        CrisisLine(
            "3114 — numéro national de prévention du suicide",
            "3114",
            "gratuit, 24h/24",
            "https://3114.fr",
        ),
    ),
    "DE": (
        CrisisLine(
            "TelefonSeelsorge",
            "0800 111 0 111",
            "oder 0800 111 0 222 — kostenlos, rund um die Uhr",
            "https://www.telefonseelsorge.de",
        ),
    ),
}

# The region a language points to when the operator set none.
LANGUAGE_REGION = {
    "en": "US",
    "es": "ES",
    "pt": "BR",
    "id": "ID",
    "zh-Hans": "CN",
    "zh-Hant": "TW",
    "ja": "JP",
    "ko": "KR",
    "fr": "FR",
    "de": "DE",
}


class LinesTable:
    """The lines of every region: the defaults with the operator's file over them."""

    def __init__(self, regions: dict[str, tuple[CrisisLine, ...]] | None = None) -> None:
        self.regions = dict(DEFAULT_LINES if regions is None else regions)

    @classmethod
    def load(cls, path: Path | None) -> LinesTable:
        table = cls()
        if path is not None:
            table.regions.update(read_lines_file(path))
        return table

    def region_for(self, language: str | None, operator_region: str = "") -> str:
        if operator_region:
            return operator_region.upper()
        return LANGUAGE_REGION.get(language or "", "")

    def lines(self, region: str) -> tuple[CrisisLine, ...]:
        """The region's lines; the international directory where there are none."""
        return self.regions.get(region.upper(), ()) or (INTERNATIONAL,)


def read_lines_file(path: Path) -> dict[str, tuple[CrisisLine, ...]]:
    """The operator's regions. A problem is a ``ConfigError`` naming the file: Kindred
    does not start with a crisis table it cannot read (silently falling back could show
    a person the wrong country's number)."""
    where = f"KINDRED_SAFETY__CRISIS_LINES_FILE ({path})"
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigError([f"{where}: larger than {MAX_FILE_BYTES // 1024} KB"])
        raw = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError([f"{where}: cannot read it ({exc.strerror})"]) from None
    except UnicodeDecodeError:
        raise ConfigError([f"{where}: not UTF-8 text"]) from None
    try:
        data: Any = json.loads(raw) if path.suffix.lower() == ".json" else yaml.safe_load(raw)
    except (ValueError, yaml.YAMLError) as exc:
        reason = str(exc).splitlines()[0][:120]
        raise ConfigError([f"{where}: not valid JSON/YAML ({reason})"]) from None
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: must map region codes (US, ES, …) to lists of lines"])
    out: dict[str, tuple[CrisisLine, ...]] = {}
    for region, entries in data.items():
        code = str(region).strip().upper()
        if not (len(code) == 2 and code.isalpha()):
            raise ConfigError([f"{where}: {region!r} is not a two-letter region code"])
        if not isinstance(entries, list) or not 0 < len(entries) <= MAX_LINES_PER_REGION:
            raise ConfigError(
                [f"{where}: {code} needs a list of 1 to {MAX_LINES_PER_REGION} lines"]
            )
        lines = []
        for i, e in enumerate(entries, 1):
            if not isinstance(e, dict) or not all(
                isinstance(e.get(k), str | int) and str(e.get(k)).strip()
                for k in ("name", "number")
            ):
                raise ConfigError([f"{where}: {code} line {i} needs a name and a number"])
            fields = {k: str(e.get(k, "") or "").strip()[:200] for k in ("note", "url")}
            name, number = str(e["name"]).strip()[:200], str(e["number"]).strip()[:100]
            lines.append(CrisisLine(name, number, fields["note"], fields["url"]))
        out[code] = tuple(lines)
    return out


def format_lines(lines: tuple[CrisisLine, ...]) -> str:
    """One line per crisis line, for the referral message."""
    out = []
    for line in lines:
        text = f"{line.name}: {line.number}"
        out.append(f"• {text}" + (f" ({line.note})" if line.note else ""))
    return "\n".join(out)

"""MemoryBank (SiliconFriend) evaluation histories -> ``kindred eval memory`` files.

A person talks with an AI companion once a day for ten days (15 people; English and a
parallel Chinese version), then asks probing questions. Source: GitHub
``zhongwanjun/MemoryBank-SiliconFriend`` (MIT licence; Zhong et al., "MemoryBank:
Enhancing Large Language Models with Long-Term Memory", AAAI 2024), files
``eval_data/{en,cn}/memory_bank_{en,cn}.json`` and ``probing_questions_{en,cn}.jsonl``. The
source has no evidence labels: ours are in ``memorybank_labels.py``.

Re-fetch (with the search tool's ``fetch github:zhongwanjun/MemoryBank-SiliconFriend``,
or ``git clone https://github.com/zhongwanjun/MemoryBank-SiliconFriend``; the snapshot used
is commit ``cf61c41``)::

    for f in en/memory_bank_en.json cn/memory_bank_cn.json \\
             en/probing_questions_en.jsonl cn/probing_questions_cn.jsonl; do
        git -C REPO show HEAD:eval_data/$f > /work/data-cache/memorybank/$(basename $f)
    done
    .venv/bin/python -m bench.memsets.memorybank [--src /work/data-cache/memorybank]
        [--out /work/data-cache/memsets]

writes, for ``en`` and ``zh``, ``memorybank-{lang}-{dev,held}.json`` (the probing
questions) and ``memorybank-cued-{lang}-{dev,held}.json`` (cued recall). People are split
by their place in the file: even places (0, 2, ...) form the dev half, odd places the
held-out half.

Each person is one sample: ``speaker_a`` the person, ``speaker_b`` the companion; day N
is ``session_N`` at 8 pm. A cued-recall item's question is the conversation as it stands
(the turn before the cue and the cue), ``context_before`` its first turn: the eval
searches only turns said before it, at its time.
"""

from __future__ import annotations

import argparse
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from bench.memsets.memorybank_labels import CUES, QUESTIONS

COMPANION = {"en": "Companion", "zh": "AI伴侣"}
FILES = {
    "en": ("memory_bank_en.json", "probing_questions_en.jsonl"),
    "zh": ("memory_bank_cn.json", "probing_questions_cn.jsonl"),
}


def _questions(path: Path) -> list[list[str]]:
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            (qs,) = json.loads(line).values()
            out.append([str(q).strip().strip('"') for q in qs])
    return out


def convert(src: Path, lang: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(question samples, cued-recall samples), one per person in file order."""
    bank_file, q_file = FILES[lang]
    bank = json.loads((src / bank_file).read_text(encoding="utf-8"))
    probes = _questions(src / q_file)
    names = list(QUESTIONS)
    people = list(bank.values())
    if len(people) != len(names) or len(probes) != len(names):
        raise SystemExit(f"{bank_file}: expected {len(names)} people")
    qa_samples, cue_samples = [], []
    for n, (label, person, asked) in enumerate(zip(names, people, probes, strict=True)):
        who = str(person.get("name") or label).strip()
        conv: dict[str, Any] = {"speaker_a": who, "speaker_b": COMPANION[lang]}
        text: dict[str, str] = {}
        days = sorted(person["history"].items())
        for d, (day, exchanges) in enumerate(days, 1):
            when = datetime.strptime(day, "%Y-%m-%d")
            conv[f"session_{d}_date_time"] = f"8:00 pm on {when.day} {when:%B}, {when.year}"
            turns = []
            for j, ex in enumerate(exchanges):
                for side, (speaker, key) in enumerate(
                    ((who, "query"), (COMPANION[lang], "response"))
                ):
                    dia = f"D{d}:{2 * j + 1 + side}"
                    said = " ".join(str(ex.get(key, "")).split())
                    turns.append({"speaker": speaker, "dia_id": dia, "text": said})
                    text[dia] = said
            conv[f"session_{d}"] = turns
        qa = [
            {"question": q, "answer": "", "evidence": ev, "category": 4}
            for q, ev in zip(asked, QUESTIONS[label], strict=True)
        ]
        cued = []
        for cue, ev in CUES.get(label, []):
            day, turn = cue[1:].split(":")
            before = f"D{day}:{int(turn) - 1}"
            stretch = [text[x] for x in (before, cue) if x in text]
            cued.append(
                {
                    "question": "\n".join(stretch),
                    "answer": "",
                    "evidence": ev,
                    "category": 4,
                    "context_before": before if before in text else cue,
                }
            )
        sid = f"memorybank-{lang}-{n:02d}"
        qa_samples.append({"sample_id": sid, "conversation": conv, "qa": qa})
        cue_samples.append({"sample_id": sid, "conversation": conv, "qa": cued})
    return qa_samples, cue_samples


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", type=Path, default=Path("/work/data-cache/memorybank"))
    ap.add_argument("--out", type=Path, default=Path("/work/data-cache/memsets"))
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    for lang in ("en", "zh"):
        qa, cued = convert(args.src, lang)
        for kind, samples in (("memorybank", qa), ("memorybank-cued", cued)):
            for half, rest in (("dev", 0), ("held", 1)):
                part = [s for i, s in enumerate(samples) if i % 2 == rest]
                path = args.out / f"{kind}-{lang}-{half}.json"
                path.write_text(json.dumps(part, ensure_ascii=False, indent=1), encoding="utf-8")
                n = sum(len(s["qa"]) for s in part)
                print(f"{path}: {len(part)} conversations, {n} questions")


if __name__ == "__main__":
    main()

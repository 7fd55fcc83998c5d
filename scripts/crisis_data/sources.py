"""The public datasets the crisis classifier learns from, read at pinned commits.

Each source is a file in a public GitHub repository, read with ``git show COMMIT:PATH``
from a local mirror of that repository (``--mirror-root``, one ``OWNER+NAME/repo`` git
directory per repository; any clone works: ``git clone https://github.com/OWNER/NAME``
then point ``--mirror-root`` at a folder holding ``OWNER+NAME/repo`` → that clone's .git).
Licences and what was taken: bot/safety/DATA_CARD.md. The data itself is not committed.
"""

from __future__ import annotations

import csv
import io
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

# One example: text, label ("crisis" | "not_crisis"), BCP-47 language, source name.
Example = tuple[str, str, str, str]


@dataclass(frozen=True)
class Source:
    name: str
    repo: str
    commit: str
    paths: tuple[str, ...]


SPANISH = Source(
    "valdez2020-es",
    "kvvaldez/spanish_suicide",
    "125fb996b24b97237b56d94a2d99b4ec0289e8be",
    ("dataset/suicidio_notacion.csv",),
)
SOS1K = Source(
    "sos1k-zh",
    "HongzhiQ/FineGrainedSuicideDetection",
    "1322c3b09bb9cc283eb840fe3b27a03d775894f4",
    (
        "ModelTrain/twoClassData/train1-data.tsv",
        "ModelTrain/twoClassData/val1-data.tsv",
        "ModelTrain/twoClassData/testdata_twoClass.tsv",
    ),
)
REDDIT_EN = Source(
    "reddit-sdd-en-sample",
    "torrentpien/chatgpt-textmining-workshop",
    "496c4544c7ff5073a93bee99fe225ead4a91c55d",
    ("Suicide_Detection.csv",),
)
CSSRS = Source(
    "reddit-cssrs-en",
    "yw041202/DSAA2012_Project",
    "1c7a104c504ee32051387033d3699d7b15fe87dc",
    ("500_Reddit_users_posts_labels.csv",),
)
SUICIDAL_TWEETS = Source(
    "suicidal-tweets-en",
    "Fei-X/twitter_suicidal_tendency",
    "370f8dfada1de0c017762a14018fcb84625a42c9",
    tuple(f"data/data_{i}.csv" for i in range(5)),
)
SOURCES = (SPANISH, SOS1K, REDDIT_EN, CSSRS, SUICIDAL_TWEETS)


def _read(root: Path, src: Source, path: str) -> bytes:
    git_dir = root / src.repo.replace("/", "+") / "repo"
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", "show", f"{src.commit}:{path}"],
        check=True,
        capture_output=True,
    ).stdout


def _spanish(root: Path) -> Iterator[Example]:
    # Columns: frase (the search phrase), tweet_clean, suicidio (1 = suicidal intent).
    text = _read(root, SPANISH, SPANISH.paths[0]).decode("utf-8")
    for row in csv.DictReader(io.StringIO(text)):
        label = "crisis" if row["suicidio"].strip() == "1" else "not_crisis"
        yield row["tweet_clean"], label, "es", SPANISH.name


def _sos1k(root: Path) -> Iterator[Example]:
    # Binary split of SOS-1K: 1 = high suicide risk, 0 = low (comments under one Weibo
    # post; the low-risk ones are mostly sadness, support and talk *about* suicide).
    for path in SOS1K.paths:
        text = _read(root, SOS1K, path).decode("utf-8")
        for line in text.splitlines()[1:]:
            body, _, label = line.rpartition("\t")
            if label.strip() in {"0", "1"} and body.strip():
                yield (
                    body,
                    "crisis" if label.strip() == "1" else "not_crisis",
                    "zh-Hans",
                    SOS1K.name,
                )


def _reddit_en(root: Path) -> Iterator[Example]:
    # A 500-post sample of the Reddit "Suicide and Depression Detection" set: r/SuicideWatch
    # (suicide) against r/teenagers (non-suicide, full of hyperbole).
    raw = _read(root, REDDIT_EN, REDDIT_EN.paths[0]).decode("utf-8")
    for row in csv.DictReader(io.StringIO(raw)):
        label = (row.get("class") or "").strip()
        if label in {"suicide", "non-suicide"} and (row.get("text") or "").strip():
            yield (
                row["text"],
                "crisis" if label == "suicide" else "not_crisis",
                "en",
                REDDIT_EN.name,
            )


def _cssrs(root: Path) -> Iterator[Example]:
    # Reddit users' posts rated on the Columbia scale by psychiatrists (Gaur et al. 2019):
    # Ideation / Behavior / Attempt are crises; Supportive (people answering others) and
    # Indicator (distress without suicidal thoughts) are the hard negatives. The label is
    # per user, so the text is the user's posts joined (the classifier reads the start).
    raw = _read(root, CSSRS, CSSRS.paths[0]).decode("utf-8", errors="replace")
    csv.field_size_limit(1 << 24)
    for row in csv.DictReader(io.StringIO(raw)):
        label = (row.get("Label") or "").strip()
        posts = (row.get("Post") or "").strip()
        if not label or not posts:
            continue
        text = posts.strip("[]").replace("', '", "\n").replace('", "', "\n").strip("'\"")
        crisis = label in {"Ideation", "Behavior", "Attempt"}
        yield text, "crisis" if crisis else "not_crisis", "en", CSSRS.name


def _suicidal_tweets(root: Path) -> Iterator[Example]:
    # 11,400 English tweets that all contain "suicidal", hand-labelled 0 (no suicidal
    # tendency of the writer: news, jokes, "my friend was suicidal", recovery), 1 and 2
    # (the writer's own tendency, weaker and stronger). Every one names the topic, so the
    # negatives are exactly the hard kind: the word alone must not decide.
    for path in SUICIDAL_TWEETS.paths:
        raw = _read(root, SUICIDAL_TWEETS, path).decode("utf-8", errors="replace")
        for row in csv.DictReader(io.StringIO(raw)):
            label = (row.get("label") or "").strip()
            text = (row.get("tweet") or "").strip()
            if label in {"0", "1", "2"} and text:
                yield (
                    text,
                    "not_crisis" if label == "0" else "crisis",
                    "en",
                    SUICIDAL_TWEETS.name,
                )


def handwritten(path: Path) -> Iterator[Example]:
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        lang, label, text = line.split("\t", 2)
        yield text, "crisis" if label == "c" else "not_crisis", lang, "handwritten"


def load_public(root: Path, without: frozenset[str] = frozenset()) -> list[Example]:
    """Every public source's examples, but those named in ``without`` (not even read, so
    their mirrors need not exist)."""
    out: list[Example] = []
    loaders = (
        (SPANISH, _spanish),
        (SOS1K, _sos1k),
        (REDDIT_EN, _reddit_en),
        (CSSRS, _cssrs),
        (SUICIDAL_TWEETS, _suicidal_tweets),
    )
    for src, loader in loaders:
        if src.name not in without:
            out.extend(loader(root))
    return out

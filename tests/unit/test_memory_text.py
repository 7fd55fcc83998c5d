"""Text preparation, query building, extraction parsing and evaluation metrics."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.memory.eval import Scores, evidence_ids, parse_session_date, score
from bot.memory.extract import parse
from bot.memory.stems import Stemmer
from bot.memory.text import (
    date_phrases,
    date_terms,
    query_terms,
    render_date,
    segment,
    turn_document,
)


def test_cjk_is_segmented_and_queried_as_bigram_phrases() -> None:
    assert segment("我的考试在星期五") == " 我 的 考 试 在 星 期 五 "
    assert segment("plain English") == "plain English"
    assert segment("明日は試験") == " 明 日 は 試 験 "
    assert query_terms("考试") == ['"考 试"']
    assert '"試 験"' in query_terms("明日は試験です")
    assert '"的 考"' in query_terms("我的考试")
    assert '"我 的"' not in query_terms("我的考试")  # two particles: no use


def test_query_terms_drop_stopwords_and_keep_the_rarest() -> None:
    assert query_terms("What did Alice tell you about pomegranate?") == [
        '"alice"',
        '"pomegranate"',
    ]
    assert query_terms("I'm nervous about tomorrow") == ['"nervous"', '"tomorrow"']
    many = query_terms(" ".join(f"word{i:02d}" for i in range(30)), limit=5)
    assert len(many) == 5


def test_dates_are_absolute_in_documents_and_queries() -> None:
    thursday = datetime(2026, 11, 26, 9, tzinfo=UTC)
    assert render_date(thursday) == "Thursday 26 November 2026"
    assert turn_document(thursday, "Wen", "hi") == "(Thursday 26 November 2026) Wen: hi"
    assert date_terms("I'm nervous about tomorrow", thursday) == ["Friday", "27", "November"]
    assert date_terms("明天考试", thursday)[0] == "Friday"
    assert date_terms("no dates here", thursday) == []


def test_stemmer_matches_the_index_tokenizer() -> None:
    stems = Stemmer().stems(["nervous", "exams", "Friday", "running"])
    assert stems == {"nervous": "nervou", "exams": "exam", "Friday": "fridai", "running": "run"}


def test_extraction_answers_are_validated() -> None:
    good = parse(
        '```json\n{"preferred_name": "wen\'er", "memories": ['
        '{"action": "add", "text": "Has an exam on Friday", "kind": "plan", "importance": 9},'
        '{"action": "update", "id": "3", "text": "Lives in Lyon"},'
        '{"action": "delete", "id": 4},'
        '{"action": "delete"},'
        '{"action": "keep", "id": 5},'
        '{"action": "add", "text": ""},'
        '{"action": "update", "text": "no id: becomes an add", "kind": "weird"}]}\n```'
    )
    assert good is not None
    assert good.preferred_name == "wen'er"
    ops = [(o.action, o.memory_id, o.text, o.kind, o.importance) for o in good.operations]
    assert ops == [
        ("add", None, "Has an exam on Friday", "plan", 5),
        ("update", 3, "Lives in Lyon", "fact", 3),
        ("delete", 4, "", "fact", 3),
        ("add", None, "no id: becomes an add", "fact", 3),
    ]
    assert parse("You said: hello") is None  # an echo, not JSON
    assert parse('{"memories": "nope"}') is not None


def test_locomo_quirks_and_metrics() -> None:
    assert evidence_ids(["D8:6; D9:17", "D9:1 D4:4", "D:11:26", "D30:05", "D"]) == [
        "D8:6",
        "D9:17",
        "D9:1",
        "D4:4",
        "D11:26",
        "D30:5",
    ]
    assert parse_session_date("1:56 pm on 8 May, 2023") == datetime(2023, 5, 8, 13, 56, tzinfo=UTC)
    s = Scores()
    score(["a", "x", "b"], {"a", "b"}, (1, 3), [s])
    m = s.mean()
    assert m["recall@1"] == 0.5 and m["recall@3"] == 1.0 and m["hit@1"] == 1.0
    assert round(m["ndcg@10"], 3) == round((1 + 1 / 2) / (1 + 1 / 1.585), 3)


def test_irregular_verbs() -> None:
    from bot.memory.text import word_forms

    assert word_forms(query_terms("Where did she buy the piano?")) == [
        '"buy"',
        '"piano"',
        '"bought"',
    ]
    assert word_forms(['"piano"']) == ['"piano"']


def kind_of(question: str) -> str | None:
    from bot.memory.answers import answer_kind

    kind = answer_kind(question)
    return kind.name if kind else None


def carries(kind: str, text: str) -> bool:
    from bot.memory.answers import KINDS

    return next(k for k in KINDS if k.name == kind).carries.search(text) is not None


def test_what_a_question_asks_for() -> None:
    assert kind_of("When did Mel go camping?") == "time"
    assert kind_of("What year did they move?") == "time"
    assert kind_of("How long ago was the wedding?") == "time"
    assert kind_of("How long have they been together?") == "duration"
    assert kind_of("How many kids does she have?") == "number"
    assert kind_of("How often does he run?") == "number"
    assert kind_of("Where did she go on holiday?") == "place"
    assert kind_of("Which US cities has he visited?") == "place"
    assert kind_of("What did Mel paint?") is None
    assert kind_of("什么时候考试?") is None  # English only: no bonus, no harm


def test_what_a_turn_carries() -> None:
    assert carries("time", "I went there last week") and carries("time", "back in 2021")
    assert carries("time", "on Friday") and not carries("time", "I like cats")
    assert carries("duration", "we've been together for three years")
    assert carries("duration", "I've loved it ever since I was a kid")
    assert not carries("duration", "we love the ride")
    assert carries("number", "I have 3 dogs") and carries("number", "twice a week")
    assert not carries("number", "I have dogs")
    assert carries("place", "I took my turtles to the beach in Tampa yesterday")
    assert carries("place", "my trip to the UK") and carries("place", "I was in Chicago")
    assert not carries("place", "I went to the beach")


def test_word_count() -> None:
    from bot.memory.text import word_count

    assert word_count("I'm nervous about my exam!") == 5
    assert word_count("我明天考试") == 3  # two characters a word, rounded up
    assert word_count("exam 考试 today") == 3
    assert word_count("") == 0


def test_date_phrases_match_the_dates_documents_carry() -> None:
    asked = "What did she find on May 23, 2023, and on the 4th of October? Or 1 February, 2023?"
    assert date_phrases(asked) == ['"4 october"', '"1 february 2023"', '"23 may 2023"']
    assert date_phrases("What did she do in May 2023?") == []
    doc = turn_document(datetime(2023, 5, 23, tzinfo=UTC), "Gina", "found a shop")
    assert "23 May 2023" in doc

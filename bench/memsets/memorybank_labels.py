"""Evidence labels for the MemoryBank (SiliconFriend) evaluation histories, written by
the Kindred developers by reading each person's ten days of conversation; no retriever
was consulted. Ids are ``D<day>:<turn>`` with the day numbered 1-10 in date order and the
turns of a day numbered from 1: the person's message of exchange j is turn 2j-1, the
companion's reply turn 2j. The English and Chinese histories are parallel (same days,
same exchanges, a few days aside), so one set of labels serves both; an id a language's
history lacks is dropped by the eval.

``QUESTIONS``: per person (the English name, in file order), the evidence of each of
their probing questions, in the order of ``probing_questions_*.jsonl`` (the turns that
hold the answer).

``CUES``: cued recall. Per person, (cue, evidence): the cue is a turn on a later day that
takes up something said on an earlier day (the query is that turn with the turn before
it, as the conversation stands when it is said); the evidence is the earlier days' turns
where that thing was said (the memories a companion should bring back there).
"""

QUESTIONS: dict[str, list[list[str]]] = {
    "Emily": [["D4:7"], ["D5:1"], ["D7:6"], ["D2:3"], ["D4:5"], ["D6:3"], ["D8:3"]],
    "Frank": [["D1:5"], ["D2:17"], ["D3:4"], ["D9:3", "D9:5"], ["D10:3"], ["D4:3"], ["D2:6"]],
    "Lucy": [["D1:7"], ["D3:3", "D3:5"], ["D2:3"], ["D4:3"], ["D4:6", "D7:2"], ["D6:4"], ["D2:3"]],
    "Sunny": [["D2:3"], ["D1:9"], ["D7:4"], ["D5:3"], ["D1:5", "D2:3"], ["D4:4"], ["D8:2"]],
    "Jason": [["D2:5"], ["D3:7"], ["D2:5"], ["D1:10"], ["D5:3"], ["D6:7"], ["D8:4"]],
    "Linda": [["D10:3"], ["D10:7"], ["D1:5", "D1:7"], ["D2:6"], ["D6:3"], ["D5:3"], ["D8:3"]],
    "John Zhang": [["D2:3"], ["D3:1", "D3:3"], ["D2:5"], ["D4:1"], ["D9:1"], ["D8:1"], ["D10:1"]],
    "Ivy": [["D1:3", "D1:5"], ["D10:3", "D10:5"], ["D6:1"], ["D2:5"], ["D1:7"], ["D9:2"], ["D6:2"]],
    "Henry": [["D1:3"], ["D4:1"], ["D4:4"], ["D8:4"], ["D10:3"], ["D2:6"], ["D6:2"]],
    "Gary": [["D2:5"], ["D8:2"], ["D9:4"], ["D8:4"], ["D6:1", "D6:3"], ["D4:2"], ["D7:2"]],
    "Jack": [["D1:6"], ["D1:6"], ["D9:5"], ["D4:3"], ["D7:3"], ["D6:4"], ["D8:1"]],
    "Roland": [
        ["D4:4", "D4:12"],
        ["D4:6", "D4:14"],
        ["D4:3", "D4:5"],
        ["D6:3"],
        ["D2:4", "D2:6"],
        ["D1:5"],
    ],
    "Susan": [["D1:3", "D1:5"], ["D1:5"], ["D4:3"], ["D3:3"], ["D8:4"]],
    "Luna": [["D2:3", "D2:5"], ["D4:3", "D4:5"], ["D8:1"], ["D7:6"], ["D2:9"]],
    "Leo": [["D1:5"], ["D6:3"], ["D6:5"], ["D7:4"], ["D7:4"], ["D8:4"], ["D10:1"]],
}

CUES_FIRST: dict[str, list[tuple[str, list[str]]]] = {
    "Emily": [("D5:1", ["D2:7", "D1:3"]), ("D7:1", ["D1:3"])],
    "Frank": [
        ("D3:9", ["D1:9", "D1:3"]),
        ("D8:3", ["D1:3", "D2:3"]),
        ("D3:7", ["D1:5"]),
    ],
    "Lucy": [
        ("D6:1", ["D2:3", "D2:4"]),
        ("D7:1", ["D4:5", "D4:6"]),
        ("D8:1", ["D5:1", "D5:3"]),
        ("D7:3", ["D1:5"]),
    ],
    "Sunny": [
        ("D8:1", ["D1:5", "D1:7", "D4:5"]),
        ("D9:3", ["D2:3", "D2:5"]),
    ],
    "Ivy": [("D7:1", ["D4:1", "D4:3"]), ("D9:1", ["D6:1", "D6:2"])],
    "Linda": [
        ("D7:3", ["D1:5"]),
        ("D8:3", ["D5:3", "D1:7"]),
        ("D10:3", ["D2:3"]),
        ("D4:1", ["D1:7"]),
        ("D3:1", ["D1:7"]),
    ],
    "John Zhang": [("D6:1", ["D3:3"]), ("D8:1", ["D2:5", "D5:1"])],
    "Henry": [
        ("D10:1", ["D1:5"]),
        ("D5:3", ["D2:5", "D2:6"]),
        ("D8:3", ["D1:7"]),
        ("D9:1", ["D3:1"]),
    ],
    "Gary": [
        ("D4:1", ["D1:5"]),
        ("D8:1", ["D1:7", "D3:1"]),
        ("D9:1", ["D2:5", "D5:1", "D5:2"]),
        ("D6:3", ["D1:7"]),
    ],
    "Jack": [
        ("D7:1", ["D1:6", "D4:3", "D4:4"]),
        ("D9:1", ["D1:3", "D1:6"]),
        ("D6:1", ["D3:2"]),
    ],
    "Roland": [("D8:1", ["D5:1", "D5:3"]), ("D10:3", ["D4:4"])],
    "Susan": [("D6:1", ["D5:1"]), ("D7:5", ["D1:3"])],
    "Luna": [("D8:3", ["D1:9", "D3:5", "D3:7"]), ("D7:5", ["D4:4"])],
    "Leo": [
        ("D10:1", ["D8:1", "D8:2", "D2:6"]),
        ("D8:1", ["D2:3", "D2:6"]),
        ("D3:3", ["D2:5"]),
    ],
}

# Added in session 11 (issue 13): candidates proposed by ``cue_candidates.py --own`` (a later
# turn of the person sharing rare words with an earlier day's turn of theirs), each read and
# kept only where the earlier turn is what a companion should bring back at the cue (the
# person's own first mention of the hobby, plan or trouble taken up again). Candidates
# whose shared words were small talk ("thank you for your advice") were dropped.
CUES_ADDED: dict[str, list[tuple[str, list[str]]]] = {
    "Emily": [
        ("D5:5", ["D2:7", "D1:5"]),
    ],
    "Frank": [
        ("D3:3", ["D1:3"]),
        ("D5:7", ["D4:3"]),
        ("D7:5", ["D6:3"]),
        ("D8:5", ["D1:3"]),
        ("D9:1", ["D1:5"]),
        ("D9:3", ["D1:7"]),
        ("D10:1", ["D8:3"]),
    ],
    "Lucy": [
        ("D6:3", ["D2:5"]),
    ],
    "Sunny": [
        ("D4:1", ["D1:7", "D1:5"]),
        ("D4:5", ["D1:5", "D1:7"]),
        ("D5:3", ["D2:3", "D2:5"]),
        ("D7:1", ["D1:5"]),
    ],
    "Jason": [
        ("D2:3", ["D1:5"]),
        ("D4:1", ["D1:5"]),
    ],
    "Linda": [
        ("D8:1", ["D5:3", "D5:1"]),
        ("D10:1", ["D2:3"]),
        ("D3:3", ["D1:7"]),
    ],
    "John Zhang": [
        ("D4:1", ["D3:1"]),
        ("D5:1", ["D2:5"]),
    ],
    "Henry": [
        ("D4:1", ["D1:3"]),
        ("D6:3", ["D4:5"]),
    ],
    "Gary": [
        ("D3:3", ["D1:7"]),
        ("D5:1", ["D2:5"]),
        ("D5:3", ["D1:7"]),
        ("D8:3", ["D5:3"]),
    ],
    "Jack": [
        ("D2:5", ["D1:3"]),
        ("D5:3", ["D1:3", "D2:3"]),
        ("D7:3", ["D4:1", "D4:3"]),
        ("D10:1", ["D2:3"]),
        ("D9:5", ["D1:3"]),
    ],
    "Roland": [
        ("D5:1", ["D3:3", "D3:5"]),
        ("D10:1", ["D7:1"]),
    ],
    "Susan": [
        ("D7:3", ["D4:3"]),
        ("D10:3", ["D2:3"]),
    ],
    "Luna": [
        ("D3:3", ["D1:5"]),
    ],
    "Leo": [
        ("D7:5", ["D2:5"]),
        ("D9:3", ["D4:1", "D4:5"]),
    ],
}

CUES: dict[str, list[tuple[str, list[str]]]] = {
    name: CUES_FIRST.get(name, []) + CUES_ADDED.get(name, []) for name in QUESTIONS
}

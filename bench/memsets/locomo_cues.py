"""Cued-recall labels for LoCoMo (``locomo10.json``), written by the Kindred developers by
reading candidates that ``cue_candidates.py --locomo`` proposed (a turn of a later session
sharing rare words with an earlier session's turn). Kept only where the cue takes up
something said in an earlier session and the evidence is where it was said (the memory a
companion in the listener's place should bring back); repeated small talk ("thanks for
your support") was dropped.

``CUES``: per sample (its place in the file: even places the dev half, odd the held-out
half, as ``split.py`` splits), (cue, evidence) with LoCoMo's own ``dia_id`` s.
"""

CUES: dict[int, list[tuple[str, list[str]]]] = {
    0: [
        ("D6:3", ["D4:11", "D4:13"]),
        ("D7:7", ["D4:11"]),
        ("D11:4", ["D10:7"]),
        ("D16:4", ["D4:8", "D10:12"]),
        ("D17:1", ["D13:1"]),
        ("D17:3", ["D2:8"]),
        ("D19:5", ["D2:8", "D17:3"]),
    ],
    1: [
        ("D6:4", ["D1:3"]),
        ("D7:2", ["D2:1"]),
        ("D8:6", ["D1:7"]),
        ("D13:7", ["D8:13"]),
    ],
    2: [
        ("D5:3", ["D1:10"]),
        ("D8:18", ["D3:11"]),
        ("D9:10", ["D4:16"]),
        ("D10:1", ["D7:16"]),
        ("D21:22", ["D15:3"]),
        ("D25:8", ["D15:18"]),
        ("D25:18", ["D10:1", "D10:5"]),
        ("D27:8", ["D21:19"]),
        ("D32:1", ["D26:2"]),
    ],
    3: [
        ("D3:1", ["D2:3", "D2:7"]),
        ("D9:10", ["D1:11"]),
        ("D11:11", ["D8:10"]),
        ("D18:10", ["D8:17"]),
        ("D20:10", ["D10:9", "D10:13"]),
        ("D21:9", ["D20:10"]),
        ("D22:8", ["D3:17"]),
        ("D26:18", ["D21:6"]),
        ("D28:12", ["D17:4"]),
        ("D29:1", ["D17:2"]),
    ],
    4: [
        ("D11:24", ["D5:15"]),
        ("D13:1", ["D8:16"]),
        ("D21:8", ["D11:17"]),
        ("D22:2", ["D4:8"]),
        ("D26:23", ["D6:17"]),
        ("D27:22", ["D26:32"]),
        ("D28:17", ["D6:8", "D5:15"]),
    ],
    5: [
        ("D7:8", ["D5:5"]),
        ("D15:5", ["D1:7"]),
        ("D17:2", ["D9:23"]),
        ("D18:1", ["D12:5"]),
        ("D26:13", ["D10:7"]),
    ],
    6: [
        ("D14:8", ["D8:12"]),
        ("D16:8", ["D14:8"]),
        ("D26:1", ["D11:11"]),
        ("D30:10", ["D17:10"]),
        ("D31:1", ["D30:1"]),
    ],
    7: [
        ("D13:1", ["D11:1"]),
        ("D17:10", ["D12:10"]),
        ("D19:17", ["D4:32"]),
        ("D22:8", ["D4:9"]),
        ("D22:15", ["D13:14"]),
        ("D23:4", ["D1:3"]),
        ("D28:18", ["D11:6"]),
    ],
    8: [
        ("D4:8", ["D3:5"]),
        ("D8:7", ["D7:6"]),
        ("D11:10", ["D9:8"]),
    ],
    9: [
        ("D7:3", ["D5:8"]),
        ("D7:15", ["D3:9"]),
        ("D17:3", ["D7:6"]),
        ("D20:4", ["D5:8"]),
        ("D24:1", ["D7:1"]),
        ("D25:28", ["D7:11"]),
    ],
}

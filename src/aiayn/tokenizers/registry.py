"""Reading a saved tokenizer back without knowing its kind: the registry of kinds.

`Tokenizer.save` writes `aiayn_tokenizer.json`, which names the kind; `load_tokenizer` looks the
kind up here and lets that class read the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from aiayn.errors import AiaynError
from aiayn.tokenizers.base import FORMAT_VERSION, META_FILE, Tokenizer
from aiayn.tokenizers.bpe import BPETokenizer
from aiayn.tokenizers.char import CharTokenizer
from aiayn.tokenizers.word import WordTokenizer

TOKENIZER_KINDS: dict[str, type[Tokenizer]] = {
    cls.kind: cls for cls in (WordTokenizer, CharTokenizer, BPETokenizer)
}


def load_tokenizer(directory: str | Path) -> Tokenizer:
    """The tokenizer that `Tokenizer.save` wrote into `directory`, whatever its kind."""
    directory = Path(directory)
    meta_path = directory / META_FILE
    try:
        meta = json.loads(meta_path.read_text("utf-8"))
    except FileNotFoundError:
        raise AiaynError(f"no tokenizer in {directory}: {META_FILE} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise AiaynError(f"cannot read tokenizer file {meta_path}: {error}") from None
    kind = meta.get("kind") if isinstance(meta, dict) else None
    if kind not in TOKENIZER_KINDS:
        raise AiaynError(
            f"{meta_path} names tokenizer kind {kind!r}; known kinds: {', '.join(TOKENIZER_KINDS)}"
        )
    version = meta.get("format_version")
    if version != FORMAT_VERSION:
        raise AiaynError(
            f"{meta_path} has format_version {version!r}; this aiayn reads {FORMAT_VERSION}"
        )
    return TOKENIZER_KINDS[kind]._load(directory, meta)

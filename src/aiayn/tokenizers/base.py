"""The interface every tokenizer follows, and the special tokens they all share.

Every kind (word, char, BPE) puts the same four special tokens at the same ids, so a model config
can say `pad_id=0` whatever tokenizer made its data:

    <pad> = 0    <unk> = 1    <bos> = 2    <eos> = 3

A tokenizer saves itself into a directory holding `aiayn_tokenizer.json`, a small JSON file that
says which kind it is (and, for the word and char kinds, the vocabulary itself);
`load_tokenizer(directory)` reads it back without the caller knowing the kind.
"""

from __future__ import annotations

import json
import os
from abc import ABC, abstractmethod
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, ClassVar, Self

from aiayn.errors import AiaynError

PAD, UNK, BOS, EOS = "<pad>", "<unk>", "<bos>", "<eos>"
SPECIAL_TOKENS: tuple[str, ...] = (PAD, UNK, BOS, EOS)
PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
META_FILE = "aiayn_tokenizer.json"
FORMAT_VERSION = 1


def check_text(text: str) -> str:
    """`text`, if it is Unicode that UTF-8 can hold; a ValueError naming the first lone surrogate
    otherwise (what undecodable bytes become in a command-line argument)."""
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as error:
            raise ValueError(
                f"text holds a lone surrogate {text[error.start]!r} at character {error.start} "
                "(bytes that were not UTF-8?): give UTF-8 text"
            ) from None
    return text


class Tokenizer(ABC):
    """Text -> token ids -> text. Subclasses implement `_encode`, `_decode` and persistence.

    `decode` drops <pad>, <bos> and <eos>; an <unk> stays visible as the string "<unk>", so a
    reader can see where the vocabulary fell short.
    """

    kind: ClassVar[str]
    pad_id: ClassVar[int] = PAD_ID
    unk_id: ClassVar[int] = UNK_ID
    bos_id: ClassVar[int] = BOS_ID
    eos_id: ClassVar[int] = EOS_ID

    @property
    @abstractmethod
    def vocab_size(self) -> int:
        """Number of token ids, the four special tokens included."""

    @abstractmethod
    def id_to_token(self, token_id: int) -> str:
        """The string of one token id."""

    @abstractmethod
    def token_to_id(self, token: str) -> int | None:
        """The id of one token string, or None when it is not in the vocabulary."""

    @abstractmethod
    def _encode(self, text: str) -> list[int]:
        """Ids of `text`, without <bos>/<eos>."""

    @abstractmethod
    def _decode(self, ids: list[int]) -> str:
        """Text of `ids`, which hold no <pad>, <bos> or <eos>."""

    @abstractmethod
    def save(self, directory: str | Path) -> Path:
        """Write the tokenizer into `directory` (created if needed); return the directory."""

    @classmethod
    @abstractmethod
    def _load(cls, directory: Path, meta: dict[str, Any]) -> Self:
        """Read a tokenizer that `save` wrote; `meta` is the parsed aiayn_tokenizer.json."""

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of `text`, optionally framed by <bos> and <eos>. Text holding a lone
        surrogate is a ValueError (`check_text`)."""
        ids = self._encode(check_text(text))
        if add_bos:
            ids.insert(0, BOS_ID)
        if add_eos:
            ids.append(EOS_ID)
        return ids

    def encode_batch(
        self, texts: Sequence[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[list[int]]:
        """`encode` of each text."""
        return [self.encode(t, add_bos=add_bos, add_eos=add_eos) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids` (a list or a 1-D tensor), with <pad>, <bos> and <eos> dropped."""
        ids = ids.tolist() if hasattr(ids, "tolist") else list(ids)  # a tensor or an iterable
        if ids and (min(ids) < 0 or max(ids) >= self.vocab_size):
            bad = next(i for i in ids if not 0 <= i < self.vocab_size)
            raise ValueError(f"token id {bad} is outside the vocabulary [0, {self.vocab_size})")
        # Of the special tokens only <unk> (1) is kept; <pad> (0), <bos> (2), <eos> (3) go.
        return self._decode([i for i in ids if i > EOS_ID or i == UNK_ID])

    def decode_batch(self, batch: Iterable[Iterable[int]]) -> list[str]:
        """`decode` of each row (a list of lists or a 2-D tensor)."""
        if hasattr(batch, "tolist"):
            batch = batch.tolist()
        return [self.decode(ids) for ids in batch]

    def _write_meta(self, directory: str | Path, **fields: Any) -> Path:
        """Write `aiayn_tokenizer.json` last and atomically: a process killed while saving
        leaves no meta file (the tokenizer is made again), never a half-written one."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"kind": self.kind, "format_version": FORMAT_VERSION, **fields}
        partial = directory / f".{META_FILE}.partial"
        partial.write_text(json.dumps(meta, ensure_ascii=False) + "\n", "utf-8")
        os.replace(partial, directory / META_FILE)
        return directory


class VocabTokenizer(Tokenizer):
    """A tokenizer that cuts text into pieces and looks each piece up in a fixed vocabulary.

    The vocabulary is a list of token strings, the special tokens first; a piece not in it
    becomes <unk>. Subclasses say how text is cut (`_pieces`) and how pieces join back (by
    concatenation, since the pieces of both kinds here cover the text exactly).
    """

    def __init__(self, *, tokens: Sequence[str]) -> None:
        tokens = list(tokens)
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(
                f"a vocabulary must start with {SPECIAL_TOKENS}, got {tuple(tokens[:4])}"
            )
        index = {tok: i for i, tok in enumerate(tokens)}
        if len(index) != len(tokens):
            duplicates = sorted(t for t, n in Counter(tokens).items() if n > 1)
            raise ValueError(f"a vocabulary must not repeat tokens, got duplicates {duplicates}")
        self._tokens = tokens
        self._index = index

    @staticmethod
    @abstractmethod
    def _pieces(text: str) -> Iterable[str]:
        """The pieces of `text`, which concatenate back to `text`."""

    @classmethod
    def train(cls, texts: Iterable[str], *, min_freq: int = 1, max_size: int | None = None) -> Self:
        """Build the vocabulary from `texts`: pieces seen at least `min_freq` times.

        Most frequent first, ties broken by the piece's string order, so the same texts always
        give the same ids. `max_size` caps `vocab_size`, the four special tokens included.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size < len(SPECIAL_TOKENS):
            raise ValueError(
                f"max_size must be >= {len(SPECIAL_TOKENS)} (the special tokens), got {max_size}"
            )
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings, not one string")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(cls._pieces(text))
        for special in SPECIAL_TOKENS:  # a piece can never equal one, but make sure
            counts.pop(special, None)
        ranked = sorted(
            (piece for piece, n in counts.items() if n >= min_freq),
            key=lambda piece: (-counts[piece], piece),
        )
        if max_size is not None:
            ranked = ranked[: max_size - len(SPECIAL_TOKENS)]
        return cls(tokens=[*SPECIAL_TOKENS, *ranked])

    @property
    def vocab_size(self) -> int:
        return len(self._tokens)

    @property
    def tokens(self) -> list[str]:
        """The vocabulary, in id order (a copy)."""
        return list(self._tokens)

    def id_to_token(self, token_id: int) -> str:
        return self._tokens[token_id]

    def token_to_id(self, token: str) -> int | None:
        return self._index.get(token)

    def pieces(self, text: str) -> list[str]:
        """The pieces `text` is cut into, before the vocabulary lookup (out-of-vocabulary ones
        included)."""
        return list(self._pieces(text))

    def _encode(self, text: str) -> list[int]:
        get = self._index.get
        return [get(piece, UNK_ID) for piece in self._pieces(text)]

    def _decode(self, ids: list[int]) -> str:
        tokens = self._tokens
        return "".join([tokens[i] for i in ids])

    def save(self, directory: str | Path) -> Path:
        return self._write_meta(directory, tokens=self._tokens)

    @classmethod
    def _load(cls, directory: Path, meta: dict[str, Any]) -> Self:
        tokens = meta.get("tokens")
        if not isinstance(tokens, list) or not all(isinstance(t, str) for t in tokens):
            raise AiaynError(f"{directory / META_FILE} has no list of tokens")
        return cls(tokens=tokens)

"""Byte-pair encoding (Sennrich et al. 2016), the paper's subword vocabulary, via Hugging Face
`tokenizers`.

The paper uses one BPE vocabulary shared by source and target (about 37,000 tokens for
English-German); train this tokenizer on both sides' training text to get the same. It also
serves as a subword option for the language model.

How text is cut before the merges (the pre-tokenizer):
1. every space becomes "▁" and the text is split before each "▁", as SentencePiece does
   (Metaspace), so a word keeps the space before it: "▁world";
2. a newline is a token of its own, so verse lines are not merged across;
3. punctuation is split off words ("world." -> "▁world", "."), so "world" is learned once.
Unlike SentencePiece, no "▁" is prepended to the text (prepend_scheme="never"): the first word of
a text is "Hello", not "▁Hello". That costs a few vocabulary entries and buys exactness: the
Metaspace decoder turns every "▁" back into a space, so `decode(encode(s)) == s` for any text
whose characters were seen in training (any spacing, leading spaces included), and encoding a text
line by line gives the same tokens as encoding it whole. A character never seen in training
becomes <unk>, and a "▁" already in the text comes back as a space.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Self

from tokenizers import AddedToken, Regex, decoders, models, pre_tokenizers, trainers
from tokenizers import Tokenizer as HFTokenizer

from aiayn.errors import AiaynError
from aiayn.tokenizers.base import BOS_ID, EOS_ID, SPECIAL_TOKENS, UNK, Tokenizer, check_text

HF_FILE = "tokenizer.json"


def _new_hf_tokenizer() -> HFTokenizer:
    tok = HFTokenizer(models.BPE(unk_token=UNK))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.Metaspace(replacement="▁", prepend_scheme="never", split=True),
            pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
            pre_tokenizers.Punctuation(behavior="isolated"),
        ]
    )
    tok.decoder = decoders.Metaspace(replacement="▁", prepend_scheme="never", split=True)
    return tok


class BPETokenizer(Tokenizer):
    """BPE subwords; build one with `BPETokenizer.train`, or wrap a trained HF tokenizer."""

    kind = "bpe"

    def __init__(self, *, hf_tokenizer: HFTokenizer) -> None:
        for i, special in enumerate(SPECIAL_TOKENS):
            if hf_tokenizer.token_to_id(special) != i:
                raise ValueError(
                    f"a BPE tokenizer must have {special!r} at id {i}, "
                    f"got id {hf_tokenizer.token_to_id(special)}"
                )
        # Text that happens to contain "<eos>" is encoded as ordinary characters, never as the
        # special token: only the data pipeline puts specials into a sequence.
        hf_tokenizer.encode_special_tokens = True
        self._hf = hf_tokenizer

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        *,
        vocab_size: int,
        min_frequency: int = 2,
        length: int | None = None,
        whole: Sequence[str] = (),
    ) -> Self:
        """Learn merges from `texts` until the vocabulary has `vocab_size` tokens (at most).

        The vocabulary holds the special tokens, every character seen in `texts`, and the merges.
        `length` (the number of texts) only feeds the trainer's bookkeeping. `whole` are strings
        always kept as one token (e.g. DialogSum's speaker tags `#Person1#`, which punctuation
        splitting would otherwise cut into `#`, `Person`, `1`, `#`); they are ordinary text, not
        special tokens, and come back unchanged when decoded.
        """
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"vocab_size must be > {len(SPECIAL_TOKENS)}, got {vocab_size}")
        if min_frequency < 1:
            raise ValueError(f"min_frequency must be >= 1, got {min_frequency}")
        if isinstance(texts, str):
            raise TypeError("texts must be an iterable of strings, not one string")
        texts = list(texts)
        # The trainer drops characters seen fewer than `min_frequency` times from the alphabet,
        # and a character outside it encodes as <unk>: hand it every character it will see.
        alphabet = sorted(set().union(*map(set, texts)) - {" "} | {"▁"})  # spaces are "▁" here
        hf = _new_hf_tokenizer()
        trainer = trainers.BpeTrainer(
            vocab_size=vocab_size,
            min_frequency=min_frequency,
            initial_alphabet=alphabet,
            special_tokens=list(SPECIAL_TOKENS),  # ids 0..3, in this order
            show_progress=False,
        )
        hf.train_from_iterator(texts, trainer=trainer, length=length)
        if whole:
            hf.add_tokens([AddedToken(t, normalized=False, single_word=False) for t in whole])
        return cls(hf_tokenizer=hf)

    @property
    def hf_tokenizer(self) -> HFTokenizer:
        """The wrapped Hugging Face tokenizer."""
        return self._hf

    @property
    def vocab_size(self) -> int:
        return self._hf.get_vocab_size(with_added_tokens=True)

    def id_to_token(self, token_id: int) -> str:
        token = self._hf.id_to_token(token_id)
        if token is None:
            raise IndexError(f"token id {token_id} is outside the vocabulary")
        return token

    def token_to_id(self, token: str) -> int | None:
        return self._hf.token_to_id(token)

    def _encode(self, text: str) -> list[int]:
        return self._hf.encode(text, add_special_tokens=False).ids

    def encode_batch(
        self, texts: Sequence[str], *, add_bos: bool = False, add_eos: bool = False
    ) -> list[list[int]]:
        """`encode` of each text, in parallel threads inside `tokenizers`."""
        prefix = [BOS_ID] if add_bos else []
        suffix = [EOS_ID] if add_eos else []
        texts = [check_text(t) for t in texts]
        encodings = self._hf.encode_batch(texts, add_special_tokens=False)
        return [prefix + e.ids + suffix for e in encodings]

    def _decode(self, ids: list[int]) -> str:
        # skip_special_tokens=False keeps <unk> visible; <pad>/<bos>/<eos> are already gone.
        return self._hf.decode(ids, skip_special_tokens=False)

    def save(self, directory: str | Path) -> Path:
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self._hf.save(str(directory / HF_FILE))  # before the meta file, which says it is whole
        return self._write_meta(directory, hf_file=HF_FILE)

    @classmethod
    def _load(cls, directory: Path, meta: dict[str, Any]) -> Self:
        path = directory / str(meta.get("hf_file", HF_FILE))
        try:
            hf = HFTokenizer.from_file(str(path))
        except Exception as error:  # tokenizers raises a bare Exception for a bad file
            raise AiaynError(f"cannot read BPE tokenizer {path}: {error}") from None
        return cls(hf_tokenizer=hf)

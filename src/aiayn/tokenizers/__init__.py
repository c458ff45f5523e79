"""Text -> token ids -> text: word, character and BPE tokenizers behind one interface."""

from aiayn.tokenizers.base import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    SPECIAL_TOKENS,
    UNK_ID,
    Tokenizer,
)
from aiayn.tokenizers.bpe import BPETokenizer
from aiayn.tokenizers.char import CharTokenizer
from aiayn.tokenizers.registry import TOKENIZER_KINDS, load_tokenizer
from aiayn.tokenizers.word import WordTokenizer

__all__ = [
    "BOS_ID",
    "BPETokenizer",
    "CharTokenizer",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "TOKENIZER_KINDS",
    "Tokenizer",
    "UNK_ID",
    "WordTokenizer",
    "load_tokenizer",
]

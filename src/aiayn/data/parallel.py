"""Parallel corpora for translation: line i of the source file is aligned with line i of the
target file. Multi30k (task 1, German-English) is the one aiayn knows by name.

Alignment is never guessed: files of different lengths are an error, and a pair with an empty
side is dropped as a pair (and counted), never by shifting one file against the other.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from aiayn.data.download import data_path
from aiayn.data.files import read_lines
from aiayn.errors import AiaynError

MULTI30K_SPLITS: dict[str, str] = {"train": "train", "val": "val", "test": "test_2016_flickr"}
MULTI30K_DIRECTIONS: tuple[str, ...] = ("de-en", "en-de")


@dataclass(frozen=True)
class ParallelCorpus:
    """Aligned sentences: `src[i]` translates to `tgt[i]`; `skipped` pairs had an empty side."""

    src: list[str]
    tgt: list[str]
    skipped: int = 0

    def __post_init__(self) -> None:
        if len(self.src) != len(self.tgt):
            raise ValueError(
                f"src and tgt must have the same length, got {len(self.src)} and {len(self.tgt)}"
            )

    def __len__(self) -> int:
        return len(self.src)

    def pairs(self) -> list[tuple[str, str]]:
        return list(zip(self.src, self.tgt, strict=True))


def read_parallel(src_path: str | Path, tgt_path: str | Path) -> ParallelCorpus:
    """Read two aligned files (plain or .gz) into a ParallelCorpus of stripped sentences.

    Raises AiaynError when the files differ in length; pairs with an empty side are skipped.
    """
    src_lines = read_lines(src_path)
    tgt_lines = read_lines(tgt_path)
    if len(src_lines) != len(tgt_lines):
        raise AiaynError(
            f"parallel files differ in length: {src_path} has {len(src_lines)} lines, "
            f"{tgt_path} has {len(tgt_lines)}"
        )
    src: list[str] = []
    tgt: list[str] = []
    skipped = 0
    for s, t in zip(src_lines, tgt_lines, strict=True):
        s, t = s.strip(), t.strip()
        if s and t:
            src.append(s)
            tgt.append(t)
        else:
            skipped += 1
    return ParallelCorpus(src=src, tgt=tgt, skipped=skipped)


def multi30k(
    split: str, direction: str = "de-en", data_dir: str | Path | None = None
) -> ParallelCorpus:
    """Multi30k task 1: split "train" (29,000 pairs), "val" (1,014) or "test" (test_2016_flickr,
    1,000); direction "de-en" (German source) or "en-de"."""
    if split not in MULTI30K_SPLITS:
        raise ValueError(f"split must be one of {tuple(MULTI30K_SPLITS)}, got {split!r}")
    if direction not in MULTI30K_DIRECTIONS:
        raise ValueError(f"direction must be one of {MULTI30K_DIRECTIONS}, got {direction!r}")
    src_lang, tgt_lang = direction.split("-")
    stem = MULTI30K_SPLITS[split]
    src = data_path("multi30k", f"{stem}.{src_lang}.gz", data_dir=data_dir)
    tgt = data_path("multi30k", f"{stem}.{tgt_lang}.gz", data_dir=data_dir)
    return read_parallel(src, tgt)

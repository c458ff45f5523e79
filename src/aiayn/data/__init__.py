"""Data sets, splits without leakage, language-model blocks, and token-budget batching."""

from aiayn.data.batching import collate, token_budget_batches
from aiayn.data.download import REMOTE_FILES, RemoteFile, cache_dir, data_path, sha256_of
from aiayn.data.files import read_lines
from aiayn.data.lm import lm_blocks
from aiayn.data.parallel import ParallelCorpus, multi30k, read_parallel
from aiayn.data.shakespeare import complete_works, tiny_shakespeare
from aiayn.data.sst2 import read_sst2, sst2
from aiayn.data.text import split_contiguous, split_works

__all__ = [
    "REMOTE_FILES",
    "ParallelCorpus",
    "RemoteFile",
    "cache_dir",
    "collate",
    "complete_works",
    "data_path",
    "lm_blocks",
    "multi30k",
    "read_lines",
    "read_parallel",
    "read_sst2",
    "sha256_of",
    "split_contiguous",
    "split_works",
    "sst2",
    "tiny_shakespeare",
    "token_budget_batches",
]

"""Data sets, splits without leakage, language-model blocks, and token-budget batching."""

from aiayn.data.batching import collate, token_budget_batches
from aiayn.data.cnn_dailymail import cnn_dailymail
from aiayn.data.dialogsum import DialogSumExample, dialogsum, read_dialogsum
from aiayn.data.download import cache_dir, data_path, find_local, sha256_of
from aiayn.data.files import read_lines, read_text
from aiayn.data.lm import lm_blocks
from aiayn.data.parallel import ParallelCorpus, multi30k, read_parallel
from aiayn.data.records import Records, read_records
from aiayn.data.remote_files import REMOTE_FILES, RemoteFile
from aiayn.data.shakespeare import complete_works, tiny_shakespeare
from aiayn.data.sst2 import read_sst2, sst2
from aiayn.data.text import split_contiguous, split_works

__all__ = [
    "REMOTE_FILES",
    "DialogSumExample",
    "ParallelCorpus",
    "Records",
    "RemoteFile",
    "cache_dir",
    "cnn_dailymail",
    "collate",
    "complete_works",
    "data_path",
    "dialogsum",
    "find_local",
    "lm_blocks",
    "multi30k",
    "read_dialogsum",
    "read_lines",
    "read_text",
    "read_parallel",
    "read_records",
    "read_sst2",
    "sha256_of",
    "split_contiguous",
    "split_works",
    "sst2",
    "tiny_shakespeare",
    "token_budget_batches",
]

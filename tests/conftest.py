"""Run the tests on one torch thread, and the small trained runs that several test files read.

The models in the tests are tiny: a second intra-op thread saves nothing, and on a machine
busy with other processes the threads wait on each other, making the suite several times slower.

The trained runs are session-scoped, trained once for the whole suite: a test reads them and
never writes into them (it copies a run first when it must change it).

The suite needs no network: every connection to an address that is not loopback, and every
name lookup of a host that is not local, fails as it would offline (an OSError), and is
recorded (`network_attempts`). Loopback stays open for the local HTTP-server and browser tests.
Processes a test starts are not covered by the guard.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

# The processes a test starts (the CLI, torchrun's workers, notebook kernels) get one thread too,
# unless the caller chose: with the suite spread over the cores (pytest -n), more would only
# contend for them.
os.environ.setdefault("OMP_NUM_THREADS", "1")

import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

# Under CI (CI set, as CI services do) Hypothesis draws the same examples on every run, so a
# submission passes or fails on its code, not on the draw; elsewhere each run draws afresh and
# keeps searching (what it finds is saved in .hypothesis/ and tried first next time).
settings.register_profile("ci", derandomize=True)
if os.environ.get("CI"):
    settings.load_profile("ci")

REPO = Path(__file__).resolve().parents[1]
DATA_DIR = Path(os.environ.get("AIAYN_DATA_DIR") or REPO.parent / "shared" / "data")

# A toy run small enough to train in well under a second: 5 steps of a 16-wide model.
TINY_TOY = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "max_steps=5",
    "n_train=64",
    "n_val=16",
    "eval_every=5",
    "batch_size=16",
    "tensorboard=false",
    "plots=false",
]
# SST-2 from scratch on a slice: a 300-piece BPE vocabulary and a one-layer encoder, 3 steps.
TINY_SST2 = [
    "n_train=32",
    "n_dev=16",
    "max_seq_len=16",
    "batch_tokens=256",
    "log_every=1",
    "max_steps=3",
    "warmup_steps=1",
    "eval_every=3",
    "checkpoint_every=1000",
    "d_model=32",
    "n_heads=2",
    "d_ff=64",
    "n_layers=1",
    "bpe_vocab_size=300",
    "precision=fp32",  # the tests compare its figures with fp32 forward passes by hand
]


class NetworkBlockedError(ConnectionRefusedError):
    """A test tried to reach the network."""


_ATTEMPTS: list[str] = []  # every blocked connection or lookup, in order
_LOCAL_NAMES = {None, "", "localhost", "localhost.localdomain"}


def _is_local(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    if host in _LOCAL_NAMES:
        return True
    try:
        address = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    return address.is_loopback or address.is_unspecified


def _blocked(what: str) -> NetworkBlockedError:
    _ATTEMPTS.append(what)
    return NetworkBlockedError(f"the tests run without a network: refused {what}")


@pytest.fixture(autouse=True, scope="session")
def _no_network() -> Iterator[None]:
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex
    real_getaddrinfo = socket.getaddrinfo

    def allowed(sock: socket.socket, address: object) -> bool:
        if sock.family == getattr(socket, "AF_UNIX", None):
            return True
        return isinstance(address, tuple) and _is_local(address[0])

    def connect(sock: socket.socket, address: object) -> None:
        if not allowed(sock, address):
            raise _blocked(f"a connection to {address!r}")
        return real_connect(sock, address)

    def connect_ex(sock: socket.socket, address: object) -> int:
        if not allowed(sock, address):
            raise _blocked(f"a connection to {address!r}")
        return real_connect_ex(sock, address)

    def getaddrinfo(host: object, *args: object, **kwargs: object) -> list:
        if not _is_local(host):
            _ATTEMPTS.append(f"a lookup of {host!r}")
            raise socket.gaierror(socket.EAI_NONAME, f"the tests run without a network: {host}")
        return real_getaddrinfo(host, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", connect)
        patch.setattr(socket.socket, "connect_ex", connect_ex)
        patch.setattr(socket, "getaddrinfo", getaddrinfo)
        yield


@pytest.fixture
def network_attempts() -> Callable[[], list[str]]:
    """network_attempts(): the connections and lookups the guard refused so far in this test."""
    start = len(_ATTEMPTS)
    return lambda: _ATTEMPTS[start:]


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> Iterator[None]:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="session")
def toy_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding the run directories `reverse` (encoder-decoder) and `reverse-lm`
    (decoder-only), each trained for 5 steps. Read only."""
    from aiayn.app.train import TrainRequest, train

    root = tmp_path_factory.mktemp("toy_runs")
    for task in ("reverse", "reverse-lm"):
        train(TrainRequest(task=task, out=root / task, device="cpu", sets=TINY_TOY))
    return root


@pytest.fixture(scope="session")
def sst2_run(tmp_path_factory: pytest.TempPathFactory):  # -> aiayn.app.train.TrainResult
    """An SST-2 classifier trained from scratch for 3 steps on 32 sentences (needs the local
    SST-2 copy). Read only."""
    if not (
        (DATA_DIR / "sst2" / "train.tsv").is_file() and (DATA_DIR / "sst2" / "dev.tsv").is_file()
    ):
        pytest.skip(f"no SST-2 copy in {DATA_DIR}/sst2 (set AIAYN_DATA_DIR)")
    from aiayn.app.train import TrainRequest, train

    out = tmp_path_factory.mktemp("sst2_run") / "scratch"
    return train(
        TrainRequest(task="sst2", out=out, device="cpu", data_dir=DATA_DIR, sets=TINY_SST2)
    )


# A tiny BPE encoder-decoder: 5 steps of a 16-wide, one-layer model on a made-up corpus.
TINY_TEXT = [
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "n_layers=1",
    "max_steps=5",
    "eval_every=5",
    "batch_size=16",
    "checkpoint_every=1000",
    "tensorboard=false",
    "plots=false",
    "bpe_vocab_size=120",
    "min_frequency=1",
    "max_positions=48",
    "reference_sentences=4",
]
_DE = {"der": "the", "hund": "dog", "katze": "cat", "läuft": "runs", "schläft": "sleeps"}


def text_pairs() -> list[tuple[str, str]]:
    """48 made-up German-English sentence pairs, word by word."""
    nouns, verbs = ["hund", "katze"], ["läuft", "schläft"]
    pairs = []
    for i in range(48):
        words = ["der", nouns[i % 2], verbs[(i // 2) % 2]] + ["hund"] * (i % 3)
        pairs.append((" ".join(words), " ".join(_DE[w] for w in words)))
    return pairs


@pytest.fixture(scope="session")
def text_runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder holding `translation` (BPE encoder-decoder on 48 made-up pairs, its files in
    data/), `summarization` (JSON lines with two references each) and `char-lm` (a character
    language model on a short text), each trained for a few steps. Read only."""
    from aiayn.app.train import TrainRequest, train

    root = tmp_path_factory.mktemp("text_runs")
    data = root / "data"
    data.mkdir()
    pairs = text_pairs()
    for split, part in (("train", pairs[:40]), ("val", pairs[40:])):
        (data / f"{split}.de").write_text("".join(f"{s}\n" for s, _ in part), encoding="utf-8")
        (data / f"{split}.en").write_text("".join(f"{t}\n" for _, t in part), encoding="utf-8")
    files = [
        f"{split}_{side}={data / f'{split}.{lang}'}"
        for split in ("train", "val")
        for side, lang in (("src", "de"), ("tgt", "en"))
    ]
    sets = [*TINY_TEXT, "eval_bleu_sentences=4", *files]
    train(TrainRequest(task="translation", out=root / "translation", device="cpu", sets=sets))

    for split, part in (("train", pairs[:40]), ("val", pairs[40:])):
        with open(data / f"{split}.jsonl", "w", encoding="utf-8") as f:
            for s, t in part:
                record = {"document": f"{t} . {s} . {t} in the park", "summary": t, "alt": s}
                f.write(json.dumps(record) + "\n")
    sets = [
        *TINY_TEXT,
        "eval_rouge_examples=4",
        "max_source_tokens=40",
        "max_target_tokens=20",
        "task.max_len=12",
        f"train_file={data / 'train.jsonl'}",
        f"val_file={data / 'val.jsonl'}",
    ]
    train(TrainRequest(task="summarization", out=root / "summarization", device="cpu", sets=sets))

    text = data / "text.txt"
    text.write_text(" ".join(t for _, t in pairs) * 4 + "\n", encoding="utf-8")
    lm = [
        "d_model=16",
        "n_heads=2",
        "d_ff=32",
        "n_layers=1",
        "max_steps=3",
        "eval_every=3",
        "batch_size=4",
        "context=32",
        "scale_embeddings=false",  # as GPT-2: the run exports to it
        "tokenizer=char",
        "min_freq=1",
        "tensorboard=false",
        "plots=false",
        "checkpoint_every=1000",
    ]
    train(
        TrainRequest(
            task="shakespeare", out=root / "char-lm", device="cpu", data_file=text, sets=lm
        )
    )
    return root

"""The argument parser of the `aiayn` command."""

from __future__ import annotations

import argparse
from typing import NoReturn

from aiayn.app.runs import CHECKPOINTS
from aiayn.cli import commands
from aiayn.config import MODEL_PRESETS
from aiayn.errors import AiaynError
from aiayn.tasks import TASKS


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise AiaynError(message)


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="aiayn", description="The Transformer of 'Attention Is All You Need'.")
    p.add_argument("-v", "--verbose", action="store_true", help="log progress messages")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    t = sub.add_parser("train", help="train a model on a task")
    t.add_argument("task", help=f"one of: {', '.join(sorted(TASKS))}")
    t.add_argument("--preset", help=f"model preset: {', '.join(MODEL_PRESETS)}")
    t.add_argument("--config", help="JSON or TOML file with sections model/train/task")
    t.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override a setting (model./train./task. prefix optional)",
    )
    t.add_argument("--out", help="run directory (default runs/TASK)")
    t.add_argument("--resume", action="store_true", help="continue the run in --out")
    t.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    t.add_argument("--max-minutes", type=float, help="stop training after this many minutes")
    t.add_argument("--data-dir", help="folder with local copies of the data sets")
    t.add_argument("--data", help="a plain-text file to train on (language-model tasks)")
    t.add_argument("--init", help="start from pretrained weights (e.g. minilm)")
    t.add_argument("--backend", default="aiayn", help="aiayn (ours) or hf (Hugging Face)")
    t.add_argument("--nproc", type=int, help="train with N processes on this machine (DDP)")
    t.add_argument(
        "--fsdp", action="store_true", help="shard the model over GPUs with FSDP2 (torchrun)"
    )
    t.set_defaults(func=commands.cmd_train)

    def run_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        r = sub.add_parser(name, help=help_text)
        r.add_argument("run", help="a run directory written by `aiayn train`")
        r.add_argument("--device", default="auto")
        r.add_argument("--checkpoint", default="final", choices=CHECKPOINTS)
        r.add_argument("--data-dir", help="folder with local copies of the data sets")
        return r

    e = run_parser("eval", "evaluate a trained run on a split")
    e.add_argument("--split", default="val", help="val, test, dev or train")
    e.set_defaults(func=commands.cmd_eval)

    g = run_parser("generate", "sample text from a language model")
    g.add_argument("--prompt", required=True)
    g.add_argument("--max-new-tokens", type=int, default=100)
    g.add_argument("--temperature", type=float, default=1.0)
    g.add_argument("--top-k", type=int)
    g.add_argument("--top-p", type=float)
    g.add_argument("--seed", type=int, default=0)
    g.add_argument(
        "--allow-unk",
        action="store_true",
        help="let the sample contain <unk> (by default it never does)",
    )
    g.set_defaults(func=commands.cmd_generate)

    tr = run_parser("translate", "translate stdin to stdout, one line each")
    tr.add_argument("--beam", type=int, default=4, help="beam size (1: greedy)")
    tr.add_argument("--alpha", type=float, default=0.6, help="length penalty (section 6.1)")
    tr.set_defaults(func=commands.cmd_translate)

    at = run_parser("attention", "draw a sentence's encoder-decoder attention as a PNG")
    at.add_argument("--sentence", required=True, help="the source sentence to translate")
    at.add_argument("--out", required=True, help="the PNG file to write")
    at.add_argument("--layer", type=int, default=-1, help="decoder layer (-1: the last)")
    at.add_argument("--average", action="store_true", help="one map, the mean over heads")
    at.add_argument("--beam", type=int, default=1, help="beam size of the translation (1: greedy)")
    at.add_argument("--alpha", type=float, default=0.6, help="length penalty (section 6.1)")
    at.set_defaults(func=commands.cmd_attention)

    c = run_parser("classify", "classify stdin lines: label and probability")
    c.set_defaults(func=commands.cmd_classify)

    a = sub.add_parser("average", help="average the last N checkpoints (section 6.1)")
    a.add_argument("run")
    a.add_argument("--last", type=int, default=5)
    a.set_defaults(func=commands.cmd_average)
    _add_ablate(sub)
    return p


def _add_ablate(sub: argparse._SubParsersAction) -> None:
    """`aiayn ablate NAME`: one experiment of aiayn.app.ablate."""
    from aiayn.app.ablate import NAMES

    ab = sub.add_parser("ablate", help="run an ablation; its figure and tables go to --out")
    ab.add_argument("name", help=f"one of: {', '.join(NAMES)}")
    ab.add_argument("--seeds", type=int, help="repeats with different seeds (default 3; 1 quick)")
    ab.add_argument("--quick", action="store_true", help="a seconds-long version (for tests)")
    ab.add_argument("--out", help="output folder (default docs/ablations/NAME)")
    ab.add_argument("--device", default="auto", help="auto (cuda > mps > cpu), cpu, cuda, mps")
    ab.set_defaults(func=commands.cmd_ablate)

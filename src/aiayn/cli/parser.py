"""The argument parser of the `aiayn` command."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from aiayn.app.export import EXPORTS
from aiayn.app.runs import CHECKPOINTS
from aiayn.cli import commands
from aiayn.config import MODEL_PRESETS
from aiayn.errors import AiaynError
from aiayn.evaluation.attention_viz import KINDS
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

    for add in (
        _eval,
        _generate,
        _translate,
        _summarize,
        _attention,
        _classify,
        _report,
        _serve,
        _export,
    ):
        add(run_parser)

    a = sub.add_parser("average", help="average the last N checkpoints (section 6.1)")
    a.add_argument("run")
    a.add_argument("--last", type=int, default=5)
    a.set_defaults(func=commands.cmd_average)
    _add_ablate(sub)
    return p


RunParser = Callable[[str, str], argparse.ArgumentParser]


def _search_arguments(p: argparse.ArgumentParser, beam: int) -> None:
    p.add_argument("--beam", type=int, default=beam, help="beam size (1: greedy)")
    p.add_argument("--alpha", type=float, default=0.6, help="length penalty (section 6.1)")


def _eval(run_parser: RunParser) -> None:
    e = run_parser("eval", "evaluate a trained run on a split, or on a file of examples")
    e.add_argument("--split", default="val", help="val, test, dev or train (as the task has)")
    e.add_argument("--file", help="score this file in the task's layout instead of a split")
    e.add_argument(
        "--ref-field",
        action="append",
        metavar="FIELD",
        help="summarisation: a reference field of --file (repeat for several references)",
    )
    e.add_argument("--ref-file", help="translation: the references, aligned with --file")
    e.set_defaults(func=commands.cmd_eval)


def _generate(run_parser: RunParser) -> None:
    g = run_parser("generate", "continue a prompt with a language model")
    g.add_argument("--prompt", help="the text to continue")
    g.add_argument(
        "--interactive",
        action="store_true",
        help="keep the model loaded and continue each line of standard input until EOF",
    )
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


def _translate(run_parser: RunParser) -> None:
    tr = run_parser("translate", "translate standard input, each line answered as it arrives")
    _search_arguments(tr, beam=4)
    tr.set_defaults(func=commands.cmd_translate)


def _summarize(run_parser: RunParser) -> None:
    s = run_parser(
        "summarize", "summarise standard input: a document a line (plain text or JSON lines)"
    )
    s.set_defaults(func=commands.cmd_summarize)


def _attention(run_parser: RunParser) -> None:
    at = run_parser("attention", "draw where the model looks on one input, as a PNG")
    at.add_argument("--text", "--sentence", dest="text", required=True, help="the input text")
    at.add_argument("--out", required=True, help="the PNG file to write")
    at.add_argument(
        "--kind",
        choices=KINDS,
        help="encoder, decoder or cross (encoder-decoder), self (a language model's or a "
        "classifier's one self-attention); default: cross, or the model's self-attention",
    )
    at.add_argument("--layer", type=int, help="only this layer (0 the first, -1 the last)")
    at.add_argument("--head", type=int, help="only this head (0 the first, -1 the last)")
    at.add_argument("--average", action="store_true", help="the mean over heads, per layer")
    _search_arguments(at, beam=1)
    at.set_defaults(func=commands.cmd_attention)


def _classify(run_parser: RunParser) -> None:
    c = run_parser("classify", "classify standard input: label and probability a line")
    c.set_defaults(func=commands.cmd_classify)


def _report(run_parser: RunParser) -> None:
    r = run_parser("report", "write a run's report: one HTML file that opens offline")
    r.add_argument("--out", help="the HTML file (default RUN/report.html)")
    r.add_argument("--samples", type=int, default=5, help="validation examples shown")
    r.add_argument("--text", help="the input of the attention explorer (default: a sample's)")
    r.set_defaults(func=commands.cmd_report)


def _serve(run_parser: RunParser) -> None:
    s = run_parser("serve", "a local page to try the model (pip install 'aiayn[serve]')")
    s.add_argument("--host", default="127.0.0.1", help="address to bind (this machine only)")
    s.add_argument("--port", type=int, default=8000)
    s.add_argument("--max-input-chars", type=int, default=2000, help="longest input accepted")
    s.add_argument("--max-new-tokens", type=int, default=256, help="longest generation")
    s.set_defaults(func=commands.cmd_serve)


def _export(run_parser: RunParser) -> None:
    x = run_parser("export", "write a run as a Hugging Face model folder")
    x.add_argument("--to", required=True, choices=EXPORTS, help="the format")
    x.add_argument("dir", help="the folder to write")
    x.set_defaults(func=commands.cmd_export)


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

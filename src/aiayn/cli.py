"""The `aiayn` command line: train, eval, generate, translate, classify, average.

Every user error ends with one line, `aiayn: error: ...`, and exit code 2, never a traceback.
This is the only module that prints.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tomllib
from pathlib import Path
from typing import Any, NoReturn

from aiayn.errors import AiaynError

EXIT_USAGE = 2


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exit code 2."""

    def error(self, message: str) -> NoReturn:
        raise AiaynError(message)


def _parse_value(text: str) -> Any:
    """`--set` values: JSON where it parses (numbers, true/false/null, lists), else the string."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def _split_sets(pairs: list[str], task: Any) -> tuple[dict, dict, dict]:
    """Sort `key=value` pairs into (model, train, task) settings. A key may be prefixed with
    `model.`, `train.` or `task.`; a bare key must name exactly one known setting."""
    from dataclasses import fields

    from aiayn.config import ModelConfig, TrainConfig

    known = {
        "model": {f.name for f in fields(ModelConfig)},
        "train": {f.name for f in fields(TrainConfig)},
        "task": set(task.options),
    }
    out: dict[str, dict[str, Any]] = {"model": {}, "train": {}, "task": {}}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise AiaynError(f"--set expects key=value, got {pair!r}")
        section, dot, name = key.partition(".")
        if dot and section in known:
            if name not in known[section]:
                raise AiaynError(f"unknown {section} setting {name!r} in --set {pair}")
            out[section][name] = _parse_value(value)
            continue
        owners = [s for s in ("task", "train", "model") if key in known[s]]
        if not owners:
            raise AiaynError(
                f"unknown setting {key!r} in --set {pair}; see `aiayn train --help` for "
                "prefixes model./train./task."
            )
        if len(owners) > 1:
            raise AiaynError(
                f"--set {key} is ambiguous: write {' or '.join(f'{o}.{key}' for o in owners)}"
            )
        out[owners[0]][key] = _parse_value(value)
    return out["model"], out["train"], out["task"]


def _read_config_file(path: str | None) -> dict[str, Any]:
    if path is None:
        return {}
    p = Path(path)
    if not p.is_file():
        raise AiaynError(f"config file {path} does not exist")
    try:
        if p.suffix == ".toml":
            return tomllib.loads(p.read_text(encoding="utf-8"))
        return json.loads(p.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
        raise AiaynError(f"cannot read config file {path}: {e}") from e


# --------------------------------------------------------------------------------- train
def cmd_train(args: argparse.Namespace) -> int:
    from aiayn.training.run import TrainRequest, resolve, train

    file_config = _read_config_file(args.config)
    request = TrainRequest(
        task=args.task,
        preset=args.preset or file_config.get("preset"),
        out=Path(args.out) if args.out else None,
        resume=args.resume,
        device=args.device,
        max_minutes=args.max_minutes,
        data_dir=Path(args.data_dir) if args.data_dir else None,
        data_file=Path(args.data) if args.data else None,
        file_config=file_config,
        sets=args.set or [],
        split_sets=_split_sets,
        init=args.init,
        backend=args.backend,
        fsdp=args.fsdp,
    )
    if args.nproc is not None and args.nproc < 1:
        raise AiaynError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc is not None and args.nproc > 1:
        from aiayn.training.distributed import check_fsdp, launch

        # Settle what every process would reject (bad settings, an occupied --out) here,
        # before starting processes that would all fail the same way.
        resolve(request)
        if args.fsdp:
            check_fsdp(args.device)
        return launch(args.nproc, args.argv)
    result = train(request)
    if not result.is_main:  # another rank of a torchrun job: rank 0 reports
        return 0
    print(f"run directory: {result.run_dir}")
    for line in result.proofs:
        print(line)
    keep = {k: v for k, v in result.summary.items() if not isinstance(v, list | dict)}
    print(json.dumps(keep, indent=2))
    return 0


# --------------------------------------------------------------------------------- use a run
def _load(args: argparse.Namespace, arch: str | None = None) -> Any:
    from aiayn.tasks import load_run
    from aiayn.training.device import resolve_device

    run = load_run(
        Path(args.run),
        device=resolve_device(args.device),
        checkpoint=args.checkpoint,
        data_dir=Path(args.data_dir) if getattr(args, "data_dir", None) else None,
    )
    if arch is not None and run.model_config.arch != arch:
        raise AiaynError(
            f"{args.run} holds a {run.model_config.arch} model; `aiayn {args.command}` needs "
            f"a {arch} model"
        )
    return run


def _stdin_lines() -> list[str]:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AiaynError(f"standard input is not UTF-8 (byte {e.start}): convert it first") from e
    return text.splitlines()


def cmd_eval(args: argparse.Namespace) -> int:
    import torch

    run = _load(args)
    with torch.no_grad():
        metrics = run.task.evaluate(run.model, args.split)
    print(json.dumps(metrics, indent=2))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    import torch

    from aiayn.decoding import generate
    from aiayn.tokenizers import UNK_ID

    if not args.prompt:
        raise AiaynError("the prompt is empty: pass --prompt TEXT")
    run = _load(args, "decoder-only")
    kept, first_token_ids = run.task.heal_prompt(args.prompt)
    ids = run.task.encode_prompt(kept)
    if not ids:
        raise AiaynError(f"the prompt {args.prompt!r} gives no tokens")
    if len(ids) > run.model_config.max_len:
        raise AiaynError(
            f"the prompt has {len(ids)} tokens, more than the model's maximum "
            f"{run.model_config.max_len}"
        )
    device = next(run.model.parameters()).device
    generator = torch.Generator(device=device).manual_seed(args.seed)
    out = generate(
        run.model,
        torch.tensor([ids], device=device),
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
        generator=generator,
        eos_id=getattr(run.task, "eos_id", None),
        suppress_ids=() if args.allow_unk else (UNK_ID,),
        first_token_ids=first_token_ids,
    )
    # The prompt as typed, not as decoded (where a rare word would read "<unk>").
    text, head = run.task.decode_output(out[0].tolist()), run.task.decode_output(ids)
    print(kept + text[len(head) :] if text.startswith(head) else text)
    return 0


def cmd_translate(args: argparse.Namespace) -> int:
    run = _load(args, "encoder-decoder")
    lines = _stdin_lines()
    for out in run.task.translate(run.model, lines, beam=args.beam, alpha=args.alpha):
        print(out)
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from aiayn.evaluation.attention_viz import attention_heatmap

    run = _load(args, "encoder-decoder")
    if not hasattr(run.task, "attention_map"):
        raise AiaynError(f"{args.run} is not a translation run: it has no attention map to draw")
    weights, src_tokens, tgt_tokens, translation = run.task.attention_map(
        run.model, args.sentence, layer=args.layer, beam=args.beam
    )
    out = attention_heatmap(
        weights,
        src_tokens=src_tokens,
        tgt_tokens=tgt_tokens,
        out=Path(args.out),
        average_heads=args.average,
        title=f"decoder layer {args.layer} cross-attention",
    )
    print(translation)
    print(f"attention heatmap -> {out}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    run = _load(args)
    if not hasattr(run.task, "classify"):
        raise AiaynError(f"{args.run} is not a classification run")
    for label, prob in run.task.classify(run.model, _stdin_lines()):
        print(f"{label}\t{prob:.4f}")
    return 0


def cmd_average(args: argparse.Namespace) -> int:
    from aiayn.tasks import load_run
    from aiayn.training.checkpoint import average_checkpoints, list_checkpoints, save_weights

    run = load_run(Path(args.run), checkpoint="latest")
    checkpoints = list_checkpoints(Path(args.run) / "checkpoints")[-args.last :]
    if len(checkpoints) < args.last:
        raise AiaynError(
            f"{args.run} has {len(checkpoints)} checkpoints, fewer than --last {args.last}"
        )
    average_checkpoints(checkpoints, run.model)
    out = Path(args.run) / "averaged.safetensors"
    save_weights(run.model, out)
    print(f"averaged {', '.join(c.name for c in checkpoints)} -> {out}")
    return 0


# --------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    from aiayn.config import MODEL_PRESETS
    from aiayn.tasks import TASKS

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
    t.set_defaults(func=cmd_train)

    def run_parser(name: str, help_text: str) -> argparse.ArgumentParser:
        r = sub.add_parser(name, help=help_text)
        r.add_argument("run", help="a run directory written by `aiayn train`")
        r.add_argument("--device", default="auto")
        r.add_argument(
            "--checkpoint", default="final", choices=["final", "best", "latest", "averaged"]
        )
        r.add_argument("--data-dir", help="folder with local copies of the data sets")
        return r

    e = run_parser("eval", "evaluate a trained run on a split")
    e.add_argument("--split", default="val", help="val, test, dev or train")
    e.set_defaults(func=cmd_eval)

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
    g.set_defaults(func=cmd_generate)

    tr = run_parser("translate", "translate stdin to stdout, one line each")
    tr.add_argument("--beam", type=int, default=4, help="beam size (1: greedy)")
    tr.add_argument("--alpha", type=float, default=0.6, help="length penalty (section 6.1)")
    tr.set_defaults(func=cmd_translate)

    at = run_parser("attention", "draw a sentence's encoder-decoder attention as a PNG")
    at.add_argument("--sentence", required=True, help="the source sentence to translate")
    at.add_argument("--out", required=True, help="the PNG file to write")
    at.add_argument("--layer", type=int, default=-1, help="decoder layer (-1: the last)")
    at.add_argument("--average", action="store_true", help="one map, the mean over heads")
    at.add_argument("--beam", type=int, default=1, help="beam size of the translation (1: greedy)")
    at.set_defaults(func=cmd_attention)

    c = run_parser("classify", "classify stdin lines: label and probability")
    c.set_defaults(func=cmd_classify)

    a = sub.add_parser("average", help="average the last N checkpoints (section 6.1)")
    a.add_argument("run")
    a.add_argument("--last", type=int, default=5)
    a.set_defaults(func=cmd_average)
    return p


def _report_error(message: str) -> None:
    """Print the one-line error. Under torchrun a worker also records it for the agent, and only
    rank 0 prints; a worker started by `--nproc` leaves the printing to its launcher."""
    if "TORCHELASTIC_ERROR_FILE" in os.environ:
        from aiayn.training.distributed import LAUNCHED_ENV, hand_error_to_launcher

        hand_error_to_launcher(message)
        if os.environ.get(LAUNCHED_ENV) or int(os.environ.get("RANK", "0")) != 0:
            return
    print(f"aiayn: error: {message}", file=sys.stderr)


def main(argv: list[str] | None = None) -> int:
    try:
        parser = build_parser()
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(name)s: %(message)s",
        )
        return args.func(args)
    except (AiaynError, ValueError, FileNotFoundError, PermissionError) as e:
        _report_error(str(e))
        return getattr(e, "exit_code", EXIT_USAGE)  # a failed --nproc worker's own code
    except KeyboardInterrupt:
        if not os.environ.get("AIAYN_LAUNCHED"):  # a --nproc worker: its launcher reports
            print(
                "aiayn: interrupted; resume with `aiayn train TASK --out DIR --resume`",
                file=sys.stderr,
            )
        return 130
    except SystemExit as e:  # --help
        return int(e.code or 0)


if __name__ == "__main__":
    sys.exit(main())

"""The `aiayn` subcommands: each turns parsed arguments into a call of an application
(aiayn.app) and prints what it returns. This package is the only place that prints."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from aiayn.errors import AiaynError


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _stdin_lines() -> list[str]:
    data = sys.stdin.buffer.read()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise AiaynError(f"standard input is not UTF-8 (byte {e.start}): convert it first") from e
    return text.splitlines()


def _open(args: argparse.Namespace):  # -> aiayn.app.runs.Run
    from aiayn.app.use import open_run

    return open_run(
        Path(args.run),
        device=args.device,
        checkpoint=args.checkpoint,
        data_dir=_path(getattr(args, "data_dir", None)),
    )


def cmd_train(args: argparse.Namespace) -> int:
    from aiayn.app.train import TrainRequest, resolve, train

    request = TrainRequest(
        task=args.task,
        preset=args.preset,
        out=_path(args.out),
        resume=args.resume,
        device=args.device,
        max_minutes=args.max_minutes,
        data_dir=_path(args.data_dir),
        data_file=_path(args.data),
        config_file=_path(args.config),
        sets=args.set or [],
        init=args.init,
        backend=args.backend,
        fsdp=args.fsdp,
    )
    if args.nproc is not None and args.nproc < 1:
        raise AiaynError(f"--nproc must be at least 1, got {args.nproc}")
    if args.nproc is not None and args.nproc > 1:
        from aiayn.cli.launcher import launch
        from aiayn.training.fsdp import check_fsdp

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


def cmd_eval(args: argparse.Namespace) -> int:
    from aiayn.app.use import evaluate_run

    print(json.dumps(evaluate_run(_open(args), args.split), indent=2))
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from aiayn.app.use import generate_text
    from aiayn.decoding import SamplingOptions

    options = SamplingOptions(
        max_new_tokens=args.max_new_tokens,
        temperature=args.temperature,
        top_k=args.top_k,
        top_p=args.top_p,
    )
    if not args.prompt:
        raise AiaynError("the prompt is empty: pass --prompt TEXT")
    run = _open(args)
    print(generate_text(run, args.prompt, options, seed=args.seed, allow_unk=args.allow_unk))
    return 0


def _search_options(args: argparse.Namespace):  # -> SearchOptions
    from aiayn.decoding import SearchOptions

    return SearchOptions(beam_size=args.beam, alpha=args.alpha)


def cmd_translate(args: argparse.Namespace) -> int:
    from aiayn.app.use import capability, translate_lines
    from aiayn.tasks import Translates

    run = _open(args)
    capability(run, Translates, "translate")  # before waiting for standard input
    for out in translate_lines(run, _stdin_lines(), _search_options(args)):
        print(out)
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from aiayn.app.use import draw_attention

    translation, out = draw_attention(
        _open(args),
        args.sentence,
        Path(args.out),
        layer=args.layer,
        average=args.average,
        options=_search_options(args),
    )
    print(translation)
    print(f"attention heatmap -> {out}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from aiayn.app.use import capability, classify_lines
    from aiayn.tasks import Classifies

    run = _open(args)
    capability(run, Classifies, "classify")  # before waiting for standard input
    for label, prob in classify_lines(run, _stdin_lines()):
        print(f"{label}\t{prob:.4f}")
    return 0


def cmd_average(args: argparse.Namespace) -> int:
    from aiayn.app.use import average_run

    names, out = average_run(Path(args.run), args.last)
    print(f"averaged {', '.join(names)} -> {out}")
    return 0


def cmd_ablate(args: argparse.Namespace) -> int:
    from aiayn.app.ablate import run_ablation

    result = run_ablation(
        args.name,
        seeds=args.seeds,
        quick=args.quick,
        out=_path(args.out),
        device=args.device,
        command=" ".join(["aiayn", *args.argv]),
    )
    for finding in result.report.findings:
        print(f"- {finding}")
    print(f"took {result.seconds:.1f} s; wrote {', '.join(str(f) for f in result.files)}")
    return 0

"""The `aiayn` subcommands: each turns parsed arguments into a call of an application
(aiayn.app) and prints what it returns. This package is the only place that prints."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path

from aiayn.errors import AiaynError


def _path(value: str | None) -> Path | None:
    return Path(value) if value else None


def _stdin_stream() -> Iterator[str]:
    """The lines of standard input (without their line ends), each as soon as it arrives."""
    for number, raw in enumerate(iter(sys.stdin.buffer.readline, b""), start=1):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as e:
            raise AiaynError(
                f"standard input is not UTF-8 (line {number}, byte {e.start}): convert it first"
            ) from e
        yield line.rstrip("\r\n")


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
    from aiayn.app.scoring import evaluate_file
    from aiayn.app.use import evaluate_run

    if args.file is None and (args.ref_field or args.ref_file):
        raise AiaynError("--ref-field and --ref-file describe --file: give --file too")
    run = _open(args)
    if args.file is not None:
        figures = evaluate_file(
            run, Path(args.file), ref_fields=args.ref_field, ref_file=_path(args.ref_file)
        )
    else:
        figures = evaluate_run(run, args.split)
    print(json.dumps(figures, indent=2))
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
    if args.interactive:
        if args.prompt is not None:
            raise AiaynError("--interactive reads its prompts from standard input: drop --prompt")
        return _generate_interactive(args, options)
    if not args.prompt:
        raise AiaynError("the prompt is empty: pass --prompt TEXT")
    run = _open(args)
    print(generate_text(run, args.prompt, options, seed=args.seed, allow_unk=args.allow_unk))
    return 0


def _generate_interactive(args: argparse.Namespace, options) -> int:
    """A continuation for each line of standard input, streamed as it is sampled."""
    from aiayn.app.use import capability, stream_text
    from aiayn.tasks import Generates

    run = _open(args)
    capability(run, Generates, "generate")
    for prompt in _stdin_stream():
        if not prompt.strip():
            print(flush=True)
            continue
        print(prompt, end="", flush=True)
        pieces = stream_text(run, prompt, options, seed=args.seed, allow_unk=args.allow_unk)
        for piece in pieces:
            print(piece, end="", flush=True)
        print(flush=True)
    return 0


def _search_options(args: argparse.Namespace):  # -> SearchOptions
    from aiayn.decoding import SearchOptions

    return SearchOptions(beam_size=args.beam, alpha=args.alpha)


def cmd_translate(args: argparse.Namespace) -> int:
    from aiayn.app.use import capability, translate_lines
    from aiayn.tasks import Translates

    run = _open(args)
    capability(run, Translates, "translate")  # before waiting for standard input
    options = _search_options(args)
    for number, line in enumerate(_stdin_stream(), start=1):
        print(translate_lines(run, [line], options, first_line=number)[0], flush=True)
    return 0


def cmd_summarize(args: argparse.Namespace) -> int:
    from aiayn.app.use import capability, document_of, summarize_lines
    from aiayn.tasks import Summarizes

    run = _open(args)
    task = capability(run, Summarizes, "summarize")  # before waiting for standard input
    for number, line in enumerate(_stdin_stream(), start=1):
        document = document_of(line, task.source_field(), number)
        print(summarize_lines(run, [document], first_line=number)[0], flush=True)
    return 0


def cmd_attention(args: argparse.Namespace) -> int:
    from aiayn.app.attention import draw_attention

    answer, out = draw_attention(
        _open(args),
        args.text,
        Path(args.out),
        kind=args.kind,
        layer=args.layer,
        head=args.head,
        average=args.average,
        options=_search_options(args),
    )
    if answer:
        print(answer)
    print(f"attention heatmap -> {out}")
    return 0


def cmd_classify(args: argparse.Namespace) -> int:
    from aiayn.app.use import capability, classify_lines
    from aiayn.tasks import Classifies

    run = _open(args)
    capability(run, Classifies, "classify")  # before waiting for standard input
    for line in _stdin_stream():
        label, prob = classify_lines(run, [line])[0]
        print(f"{label}\t{prob:.4f}", flush=True)
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    from aiayn.app.report import write_report

    run = _open(args)
    out = write_report(run, _path(args.out), samples=args.samples, text=args.text)
    print(f"report -> {out}")
    return 0


def cmd_serve(args: argparse.Namespace) -> int:
    from aiayn.app.serve import serve_run

    serve_run(
        _open(args),
        host=args.host,
        port=args.port,
        max_input_chars=args.max_input_chars,
        max_new_tokens=args.max_new_tokens,
    )
    return 0


def cmd_export(args: argparse.Namespace) -> int:
    from aiayn.app.export import export_run

    out = export_run(_open(args), args.to, Path(args.dir))
    print(f"{args.to} model -> {out}")
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

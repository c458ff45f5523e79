"""The argument parser: every subcommand takes its documented flags, with their defaults, and a
usage error is an AiaynError (one line), not argparse's usage dump and SystemExit 2."""

from __future__ import annotations

import pytest

from aiayn.app.runs import CHECKPOINTS
from aiayn.cli import commands
from aiayn.cli.parser import build_parser
from aiayn.errors import AiaynError


def _parse(*argv: str):
    return build_parser().parse_args(list(argv))


def test_train_takes_every_flag():
    args = _parse(
        "-v",
        "train",
        "reverse",
        "--preset",
        "tiny",
        "--config",
        "run.toml",
        "--set",
        "d_model=32",
        "--set",
        "train.seed=3",
        "--out",
        "runs/x",
        "--resume",
        "--device",
        "cpu",
        "--max-minutes",
        "1.5",
        "--data-dir",
        "data",
        "--data",
        "text.txt",
        "--init",
        "minilm",
        "--backend",
        "hf",
        "--nproc",
        "2",
        "--fsdp",
    )
    assert args.func is commands.cmd_train and args.verbose
    assert (args.task, args.preset, args.config, args.out) == (
        "reverse",
        "tiny",
        "run.toml",
        "runs/x",
    )
    assert args.set == ["d_model=32", "train.seed=3"]  # repeated, in order
    assert args.resume and args.fsdp and args.nproc == 2 and args.max_minutes == 1.5
    assert (args.device, args.data_dir, args.data) == ("cpu", "data", "text.txt")
    assert (args.init, args.backend) == ("minilm", "hf")


def test_train_defaults():
    args = _parse("train", "copy")
    assert (args.device, args.backend, args.set, args.nproc) == ("auto", "aiayn", None, None)
    assert not (args.resume or args.fsdp or args.verbose)
    assert args.preset is args.out is args.config is args.max_minutes is None


@pytest.mark.parametrize(
    ("command", "func"),
    [
        ("eval", commands.cmd_eval),
        ("translate", commands.cmd_translate),
        ("classify", commands.cmd_classify),
        ("summarize", commands.cmd_summarize),
        ("report", commands.cmd_report),
        ("serve", commands.cmd_serve),
    ],
)
def test_run_commands_share_run_device_checkpoint_and_data_dir(command, func):
    args = _parse(command, "RUN", "--device", "cpu", "--checkpoint", "best", "--data-dir", "d")
    assert args.func is func
    assert (args.run, args.device, args.checkpoint, args.data_dir) == ("RUN", "cpu", "best", "d")
    defaults = _parse(command, "RUN")
    assert (defaults.device, defaults.checkpoint, defaults.data_dir) == ("auto", "final", None)


def test_eval_split():
    assert _parse("eval", "RUN").split == "val"
    assert _parse("eval", "RUN", "--split", "test").split == "test"


def test_generate_flags_and_defaults():
    args = _parse(
        "generate",
        "RUN",
        "--prompt",
        "to be",
        "--max-new-tokens",
        "7",
        "--temperature",
        "0.5",
        "--top-k",
        "3",
        "--top-p",
        "0.9",
        "--seed",
        "4",
        "--allow-unk",
    )
    assert args.func is commands.cmd_generate
    assert (args.prompt, args.max_new_tokens, args.temperature) == ("to be", 7, 0.5)
    assert (args.top_k, args.top_p, args.seed, args.allow_unk) == (3, 0.9, 4, True)
    d = _parse("generate", "RUN", "--prompt", "x")
    assert (d.max_new_tokens, d.temperature, d.top_k, d.top_p, d.seed, d.allow_unk) == (
        100,
        1.0,
        None,
        None,
        0,
        False,
    )


def test_translate_defaults_to_the_papers_beam():
    args = _parse("translate", "RUN")
    assert (args.beam, args.alpha) == (4, 0.6)  # section 6.1
    args = _parse("translate", "RUN", "--beam", "1", "--alpha", "0")
    assert (args.beam, args.alpha) == (1, 0.0)


def test_attention_flags_and_defaults():
    args = _parse("attention", "RUN", "--sentence", "ein Hund", "--out", "a.png")
    assert args.func is commands.cmd_attention
    assert (args.text, args.out, args.layer, args.head) == ("ein Hund", "a.png", None, None)
    assert (args.kind, args.average) == (None, False)  # every layer and head of the default kind
    assert (args.beam, args.alpha) == (1, 0.6)  # greedy: the heatmap of one translation
    args = _parse(
        "attention",
        "RUN",
        "--text",
        "s",
        "--out",
        "o",
        "--layer",
        "-1",
        "--head",
        "2",
        "--kind",
        "decoder",
    )
    assert (args.text, args.layer, args.head, args.kind) == ("s", -1, 2, "decoder")
    with pytest.raises(AiaynError, match="--kind: invalid choice: 'both'"):
        _parse("attention", "RUN", "--text", "s", "--out", "o", "--kind", "both")


def test_eval_file_and_reference_fields():
    args = _parse("eval", "RUN", "--file", "t.jsonl", "--ref-field", "a", "--ref-field", "b")
    assert (args.file, args.ref_field, args.ref_file) == ("t.jsonl", ["a", "b"], None)
    assert _parse("eval", "RUN", "--file", "x.de", "--ref-file", "x.en").ref_file == "x.en"


def test_generate_interactive_needs_no_prompt():
    args = _parse("generate", "RUN", "--interactive")
    assert args.interactive and args.prompt is None


def test_report_serve_and_export_flags_and_defaults():
    r = _parse("report", "RUN")
    assert (r.out, r.samples, r.text) == (None, 5, None)
    s = _parse("serve", "RUN")
    assert (s.host, s.port, s.max_input_chars, s.max_new_tokens) == ("127.0.0.1", 8000, 2000, 256)
    x = _parse("export", "RUN", "--to", "hf-marian", "out")
    assert (x.func, x.to, x.dir) == (commands.cmd_export, "hf-marian", "out")
    with pytest.raises(AiaynError, match="--to: invalid choice: 'onnx'"):
        _parse("export", "RUN", "--to", "onnx", "out")


def test_average_last():
    args = _parse("average", "RUN")
    assert args.func is commands.cmd_average and (args.run, args.last) == ("RUN", 5)
    assert _parse("average", "RUN", "--last", "2").last == 2


def test_checkpoint_choices_are_the_runs_weights():
    assert CHECKPOINTS == ("final", "best", "latest", "averaged")
    for name in CHECKPOINTS:
        assert _parse("eval", "RUN", "--checkpoint", name).checkpoint == name
    with pytest.raises(AiaynError, match="--checkpoint: invalid choice: 'step-5'"):
        _parse("eval", "RUN", "--checkpoint", "step-5")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "the following arguments are required: command"),
        (["frobnicate"], "invalid choice: 'frobnicate'"),
        (["train"], "the following arguments are required: task"),
        (["train", "copy", "--nproc", "two"], "--nproc: invalid int value: 'two'"),
        (["attention", "RUN", "--out", "a.png"], "required: --text/--sentence"),
        (["eval", "RUN", "--bogus"], "unrecognized arguments: --bogus"),
    ],
)
def test_a_usage_error_is_an_aiayn_error_not_a_usage_dump(argv, message, capsys):
    with pytest.raises(AiaynError, match=message):
        _parse(*argv)
    assert capsys.readouterr().err == ""  # nothing printed: the CLI prints the one line


def test_help_still_exits(capsys):
    with pytest.raises(SystemExit) as exit_:
        _parse("train", "--help")
    assert exit_.value.code == 0
    assert "--nproc" in capsys.readouterr().out


def test_ablate_flags_and_defaults():
    args = _parse("ablate", "no-residual")
    assert args.func is commands.cmd_ablate and args.name == "no-residual"
    assert (args.seeds, args.quick, args.out, args.device) == (None, False, None, "auto")
    args = _parse("ablate", "shared-layers", "--seeds", "2", "--quick", "--out", "D")
    assert (args.seeds, args.quick, args.out) == (2, True, "D")
    with pytest.raises(AiaynError, match="--seeds: invalid int value: 'x'"):
        _parse("ablate", "no-residual", "--seeds", "x")

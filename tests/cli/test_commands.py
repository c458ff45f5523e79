"""The subcommands end to end, and how `main` reports: bad input ends with one line,
`aiayn: error: ...`, and exit code 2, never a traceback.

Fuzzed (Hypothesis max_examples): test_fuzz_translate (40) + test_fuzz_generate (30) +
test_fuzz_classify (30) + test_fuzz_eval_split (20) + test_fuzz_train_data (12) = 132 cases, of the
1182 over the tokenizers, the data readers and the CLI (benchmarks/results/reliability.md).
"""

import contextlib
import io
import json
import logging
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from aiayn.cli import main
from aiayn.cli.launcher import LAUNCHED_ENV, WorkerFailedError
from aiayn.errors import AiaynError, DataNotFoundError


@pytest.fixture
def runs(toy_runs):
    """`reverse` and `reverse-lm`, trained once for the session (tests/conftest.py)."""
    return toy_runs


def _error(capsys, argv) -> str:
    code = main(argv)
    err = capsys.readouterr().err
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiayn: error: "), err
    return lines[0]


def test_unknown_task(capsys):
    assert "unknown task 'nope'" in _error(capsys, ["train", "nope"])


def test_unknown_set_key(capsys, tmp_path):
    msg = _error(capsys, ["train", "reverse", "--out", str(tmp_path / "x"), "--set", "bogus=1"])
    assert "bogus" in msg


def test_bad_set_value(capsys, tmp_path):
    msg = _error(capsys, ["train", "reverse", "--out", str(tmp_path / "x"), "--set", "n_heads=3"])
    assert "n_heads" in msg


def test_missing_option_and_unknown_command(capsys):
    _error(capsys, ["frobnicate"])
    _error(capsys, ["train"])


def test_missing_run_directory(capsys, tmp_path):
    assert "does not exist" in _error(capsys, ["eval", str(tmp_path / "nothing")])
    assert "not a run directory" in _error(capsys, ["eval", str(tmp_path)])


def test_run_directory_of_the_wrong_kind(capsys, runs):
    msg = _error(capsys, ["generate", str(runs / "reverse"), "--prompt", "1 2"])
    assert "'reverse' run" in msg and "needs a language model" in msg
    msg = _error(capsys, ["translate", str(runs / "reverse-lm")])
    assert "'reverse-lm' run" in msg and "translates" in msg
    msg = _error(capsys, ["classify", str(runs / "reverse")])
    assert "'reverse' run" in msg and "classification task" in msg


def test_existing_run_is_not_overwritten(capsys, runs):
    assert "--resume" in _error(capsys, ["train", "reverse", "--out", str(runs / "reverse")])


def test_empty_prompt(capsys, runs):
    assert "empty" in _error(capsys, ["generate", str(runs / "reverse-lm"), "--prompt", ""])


def test_prompt_longer_than_the_model(capsys, runs):
    prompt = " ".join(["1"] * 40)
    assert "maximum" in _error(capsys, ["generate", str(runs / "reverse-lm"), "--prompt", prompt])


def test_unknown_symbol_in_prompt(capsys, runs):
    assert "unknown symbol" in _error(
        capsys, ["generate", str(runs / "reverse-lm"), "--prompt", "1 x"]
    )


def test_fsdp_on_cpu_and_a_bad_nproc_are_clear_errors(capsys, tmp_path):
    base = ["train", "reverse", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert "needs CUDA" in _error(capsys, [*base, "--fsdp"])
    assert "needs CUDA" in _error(capsys, [*base, "--fsdp", "--nproc", "2"])
    assert "--nproc must be at least 1" in _error(capsys, [*base, "--nproc", "0"])


def test_nproc_settles_bad_settings_before_starting_processes(capsys, tmp_path, monkeypatch):
    def launch(nproc, argv):
        raise AssertionError("processes were started for settings every one of them rejects")

    monkeypatch.setattr("aiayn.cli.launcher.launch", launch)
    argv = ["train", "reverse", "--out", str(tmp_path / "r"), "--nproc", "2", "--set", "bogus=1"]
    assert "bogus" in _error(capsys, argv)


def test_average_names_the_checkpoints_it_averaged(capsys, runs, tmp_path):
    import shutil

    run = tmp_path / "reverse"
    shutil.copytree(runs / "reverse", run)  # `average` writes into the run
    assert main(["average", str(run), "--last", "1"]) == 0
    out = capsys.readouterr().out.strip()
    assert out == f"averaged step-0000005 -> {run / 'averaged.safetensors'}"
    assert "fewer than --last 9" in _error(capsys, ["average", str(run), "--last", "9"])


# -------------------------------------------------------------------- how main reports errors
@pytest.mark.parametrize(
    "error",
    [
        AiaynError("the run is broken"),
        DataNotFoundError("the run is broken"),
        ValueError("the run is broken"),
        FileNotFoundError("the run is broken"),
    ],
)
def test_a_user_error_in_a_command_is_one_line_and_exit_2(capsys, monkeypatch, error):
    def cmd_eval(args):
        raise error

    monkeypatch.setattr("aiayn.cli.commands.cmd_eval", cmd_eval)
    assert _error(capsys, ["eval", "RUN"]) == "aiayn: error: the run is broken"


def test_a_failed_worker_gives_its_own_exit_code(capsys, monkeypatch):
    def cmd_eval(args):
        raise WorkerFailedError("rank 1 was killed by SIGKILL", 137)

    monkeypatch.setattr("aiayn.cli.commands.cmd_eval", cmd_eval)
    assert main(["eval", "RUN"]) == 137
    assert capsys.readouterr().err == "aiayn: error: rank 1 was killed by SIGKILL\n"


def test_a_worker_hands_its_error_to_the_launcher_and_prints_nothing(capsys, monkeypatch, tmp_path):
    error_file = tmp_path / "error.json"
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(error_file))
    monkeypatch.setenv(LAUNCHED_ENV, "1")
    assert main(["train", "nope"]) == 2
    assert capsys.readouterr().err == ""
    assert json.loads(error_file.read_text())["message"].startswith("unknown task 'nope'")


def test_under_plain_torchrun_only_rank_0_prints(capsys, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCHELASTIC_ERROR_FILE", str(tmp_path / "error.json"))
    monkeypatch.delenv(LAUNCHED_ENV, raising=False)
    monkeypatch.setenv("RANK", "1")
    assert main(["train", "nope"]) == 2
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("RANK", "0")
    assert "unknown task 'nope'" in _error(capsys, ["train", "nope"])


def test_an_interrupt_says_how_to_resume(capsys, monkeypatch):
    def cmd_eval(args):
        raise KeyboardInterrupt

    monkeypatch.setattr("aiayn.cli.commands.cmd_eval", cmd_eval)
    monkeypatch.delenv(LAUNCHED_ENV, raising=False)
    assert main(["eval", "RUN"]) == 130
    assert "--resume" in capsys.readouterr().err


def test_help_exits_0_with_the_usage(capsys):
    assert main(["--help"]) == 0
    assert "usage: aiayn" in capsys.readouterr().out


# ------------------------------------------------------------------ in a real process (slow)
def _translate(runs, data: bytes):
    return subprocess.run(
        [sys.executable, "-m", "aiayn", "translate", str(runs / "reverse"), "--beam", "1"],
        input=data,
        capture_output=True,
        timeout=120,
    )


@pytest.mark.slow
def test_non_utf8_stdin_in_a_real_process(runs):
    out = _translate(runs, b"1 2 3\n\xff\xfe 4\n")
    assert out.returncode == 2
    assert out.stderr.decode().strip().startswith("aiayn: error: standard input is not UTF-8")
    assert b"Traceback" not in out.stderr


@pytest.mark.slow
def test_input_longer_than_the_model_is_cut_and_the_run_goes_on(runs):
    out = _translate(runs, (" ".join(["1"] * 100_000) + "\n2 3\n").encode())
    assert out.returncode == 0 and len(out.stdout.decode().splitlines()) == 2
    assert b"a source line of 100000 tokens ('1 1 1" in out.stderr
    assert b"longer than the model's maximum 76" in out.stderr and b"Traceback" not in out.stderr


@pytest.mark.slow
def test_translate_and_eval_work(capsys, runs):
    from aiayn.app.use import open_run, translate_lines
    from aiayn.decoding import SearchOptions

    # each line answered while standard input is still open: streamed, flushed
    answers = _answers_before_eof(
        ["translate", str(runs / "reverse"), "--beam", "1"], [b"1 2 3", b"", b"4 5"]
    )
    run = open_run(runs / "reverse", device="cpu")
    assert answers == translate_lines(run, ["1 2 3", "", "4 5"], SearchOptions())
    assert main(["eval", str(runs / "reverse"), "--split", "val"]) == 0
    assert "val_loss" in capsys.readouterr().out
    assert (
        main(
            [
                "generate",
                str(runs / "reverse-lm"),
                "--prompt",
                "1 2",
                "--seed",
                "3",
                "--max-new-tokens",
                "5",
            ]
        )
        == 0
    )


# ------------------------------------------------------------------ looking inside a run
def _ok(capsys, argv) -> str:
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 0, captured.err
    return captured.out


def test_attention_of_every_kind_of_run(capsys, runs, text_runs, sst2_run, tmp_path):
    for run, kind in (
        (runs / "reverse", "cross"),
        (runs / "reverse", "encoder"),
        (runs / "reverse", "decoder"),
        (runs / "reverse-lm", "self"),
        (text_runs / "translation", None),
        (text_runs / "summarization", "encoder"),
        (text_runs / "char-lm", "decoder"),
        (sst2_run.run_dir, "self"),
    ):
        text = "der hund läuft" if run.parent == text_runs else "3 1 4"
        out = tmp_path / f"{run.name}-{kind}.png"
        argv = ["attention", str(run), "--text", text, "--out", str(out)]
        printed = _ok(capsys, argv + (["--kind", kind] if kind else []))
        assert printed.splitlines()[-1] == f"attention heatmap -> {out}"
        assert out.read_bytes()[:4] == b"\x89PNG"


def test_attention_keeps_sentence_as_an_alias_and_refuses_a_missing_kind(capsys, runs, tmp_path):
    out = tmp_path / "a.png"
    argv = ["attention", str(runs / "reverse"), "--sentence", "1 2", "--out", str(out)]
    _ok(capsys, [*argv, "--layer", "-1", "--head", "0"])
    assert out.is_file()
    lm = ["attention", str(runs / "reverse-lm"), "--text", "1 2", "--out", str(out)]
    assert "has no cross attention" in _error(capsys, [*lm, "--kind", "cross"])
    assert "--layer must be in" in _error(capsys, [*lm, "--layer", "9"])


def test_report_writes_one_self_contained_file(capsys, runs, tmp_path):
    out = tmp_path / "r.html"
    assert _ok(capsys, ["report", str(runs / "reverse"), "--out", str(out)]) == f"report -> {out}\n"
    page = out.read_text(encoding="utf-8")
    assert "<script src" not in page and "<link" not in page
    assert '"attention":[{' in page


def test_eval_scores_a_file_and_refuses_an_unknown_split(capsys, runs, text_runs):
    data = text_runs / "data"
    argv = ["eval", str(text_runs / "summarization"), "--file", str(data / "val.jsonl")]
    figures = json.loads(_ok(capsys, [*argv, "--ref-field", "summary", "--ref-field", "alt"]))
    assert figures["references"] == ["summary", "alt"] and "rouge_l" in figures
    argv = ["eval", str(text_runs / "translation"), "--file", str(data / "val.de")]
    assert "bleu" in json.loads(_ok(capsys, [*argv, "--ref-file", str(data / "val.en")]))
    msg = _error(capsys, ["eval", str(runs / "reverse"), "--split", "nope"])
    assert "nope" in msg and "train, val, test" in msg
    msg = _error(capsys, ["eval", str(text_runs / "translation"), "--split", "nope"])
    assert "nope" in msg and "train, val, test" in msg
    msg = _error(capsys, ["eval", str(text_runs / "char-lm"), "--split", "nope"])
    assert "nope" in msg and "train, val, test" in msg
    assert "give --file too" in _error(capsys, ["eval", str(runs / "reverse"), "--ref-file", "x"])


def test_export_refuses_another_kind_by_name(capsys, runs, tmp_path):
    msg = _error(capsys, ["export", str(runs / "reverse-lm"), "--to", "hf-marian", str(tmp_path)])
    assert "'reverse-lm' run" in msg and "needs an encoder-decoder" in msg


def test_serve_without_the_extra_is_one_line_naming_it(capsys, runs, monkeypatch):
    monkeypatch.setitem(sys.modules, "uvicorn", None)  # import uvicorn now raises ImportError
    msg = _error(capsys, ["serve", str(runs / "reverse"), "--port", "0"])
    assert 'pip install "aiayn[serve]"' in msg


def test_serve_binds_to_this_machine_by_default(capsys, runs, monkeypatch):
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append(kw))
    _ok(capsys, ["serve", str(runs / "reverse-lm"), "--port", "8123"])
    assert (calls[0]["host"], calls[0]["port"]) == ("127.0.0.1", 8123)


def _aiayn(*argv: str) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "aiayn", *argv],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def _answers_before_eof(argv: list[str], lines: list[bytes]) -> list[str]:
    """Send each line and read its answer while standard input is still open."""
    process = _aiayn(*argv)
    answers = []
    try:
        for line in lines:
            process.stdin.write(line + b"\n")
            process.stdin.flush()
            answers.append(process.stdout.readline().decode().rstrip("\n"))
        process.stdin.close()
        assert process.wait(timeout=60) == 0, process.stderr.read()
    finally:
        process.kill()
    return answers


class Typed:
    """Standard input typed line by line: a line is handed over only after the answer to the one
    before it was printed; the answers are kept."""

    def __init__(self, lines: list[str], capsys) -> None:
        self.lines, self.capsys = [line.encode() + b"\n" for line in lines], capsys
        self.answers: list[str] = []
        self.given = 0
        self.buffer = self

    def readline(self) -> bytes:
        if self.given:  # the line handed over last must be answered by now
            printed = self.capsys.readouterr().out
            assert printed.endswith("\n"), (
                f"line {self.given} was not answered before the next read"
            )
            self.answers.append(printed)
        if self.given == len(self.lines):
            return b""  # end of input
        self.given += 1
        return self.lines[self.given - 1]


def _typed(capsys, monkeypatch, argv: list[str], lines: list[str]) -> list[str]:
    typed = Typed(lines, capsys)
    monkeypatch.setattr(sys, "stdin", typed)
    assert main(argv) == 0
    assert capsys.readouterr().out == ""  # nothing printed after the end of input
    return typed.answers


def test_classify_answers_each_line_before_reading_the_next(capsys, monkeypatch, sst2_run):
    answers = _typed(
        capsys, monkeypatch, ["classify", str(sst2_run.run_dir)], ["a fine movie", "dull"]
    )
    assert [a.split("\t")[0] in ("negative", "positive") for a in answers] == [True, True]


def test_summarize_reads_json_lines_or_plain_text_one_at_a_time(capsys, monkeypatch, text_runs):
    record = json.dumps({"document": "the dog runs . der hund läuft"})
    argv = ["summarize", str(text_runs / "summarization")]
    answers = _typed(capsys, monkeypatch, argv, [record, "der katze schlaeft"])
    assert len(answers) == 2 and all(a.count("\n") == 1 for a in answers)


def test_generate_interactive_continues_each_prompt_with_the_model_loaded(
    capsys, monkeypatch, runs
):
    argv = ["generate", str(runs / "reverse-lm"), "--interactive", "--temperature", "0"]
    answers = _typed(capsys, monkeypatch, [*argv, "--max-new-tokens", "3"], ["1 2", "7"])
    assert answers[0].startswith("1 2") and len(answers[0].split()) == 5
    assert answers[1].startswith("7") and len(answers[1].split()) == 4
    assert "drop --prompt" in _error(capsys, [*argv, "--prompt", "1"])


# ------------------------------------------------------------------ fuzzed input, in-process
# `main([...])` with standard input patched, on the session's tiny runs. Every case ends with
# exit 0 and an answer per line, or exit 2 and one line `aiayn: error: ...`; an exception
# escaping `main` (a traceback) fails the test. deadline=None on purpose: each example opens a
# run and decodes, which can pass Hypothesis's 200 ms default on a loaded 2-core machine; the
# outcome is checked, never the time.
class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append(record.getMessage())


def _cli(argv: list[str], stdin: bytes = b"") -> tuple[int, str, str, list[str]]:
    """(exit code, stdout, stderr, warnings logged) of `aiayn ARGV < stdin`, in this process."""
    out, err, logged = io.StringIO(), io.StringIO(), _Records()
    logger = logging.getLogger("aiayn")
    logger.addHandler(logged)
    try:
        with (
            mock.patch.object(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin), "utf-8")),
            contextlib.redirect_stdout(out),
            contextlib.redirect_stderr(err),
        ):
            code = main(argv)
    finally:
        logger.removeHandler(logged)
    return code, out.getvalue(), err.getvalue(), logged.messages


def _one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiayn: error: "), err
    return lines[0]


LONG_LINE = " ".join(["1"] * 50_000)  # 99,999 characters, 50,000 symbols
SYMBOLS = st.lists(st.integers(0, 9).map(str), max_size=12).map(" ".join)
LINE = st.one_of(
    SYMBOLS,
    # unknown tokens, controls
    st.text(st.characters(codec="utf-8", exclude_characters="\n\r"), max_size=30),
    st.text(alphabet=" \t\x0b\x0c\x1c\x85\u2028\u3000", max_size=5),  # whitespace only
    st.just(""),
    st.just(LONG_LINE),
)
STDIN = st.one_of(
    st.lists(LINE, max_size=5).map(lambda lines: "".join(x + "\n" for x in lines).encode()),
    st.lists(LINE, min_size=1, max_size=3).map(lambda lines: "\n".join(lines).encode()),
    st.binary(max_size=40),  # invalid UTF-8 most of the time
)


def _utf8(data: bytes) -> str | None:
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return None


def _line_counts(text: str) -> set[int]:
    """Lines of input, as str.splitlines counts them or as only a newline ends one."""
    by_newline = text.split("\n")
    return {len(text.splitlines()), len(by_newline) - (by_newline[-1] == "")}


def _is_symbols(line: str) -> bool:
    return all(p.isascii() and p.isdigit() and int(p) < 10 for p in line.split())


@pytest.mark.slow
@settings(max_examples=40, deadline=None)
@given(data=STDIN)
def test_fuzz_translate(toy_runs, data: bytes) -> None:
    """Empty and whitespace-only lines give empty lines; a 100,000-character line is cut to the
    model's length with a warning and the other lines go on; unknown symbols and bytes that
    are not UTF-8 are one-line errors."""
    code, out, err, warnings = _cli(["translate", str(toy_runs / "reverse"), "--beam", "1"], data)
    text = _utf8(data)
    if text is None:
        assert "standard input is not UTF-8" in _one_line_error(code, err)
        return
    if not all(_is_symbols(line) for line in text.splitlines()):
        assert "unknown symbol" in _one_line_error(code, err)
        return
    assert code == 0, err
    assert len(out.splitlines()) in _line_counts(text)
    assert all(_is_symbols(line) for line in out.splitlines())
    cut = [w for w in warnings if "longer than the model's maximum" in w]
    assert len(cut) == sum(line == LONG_LINE for line in text.split("\n"))


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(
    prompt=st.one_of(
        LINE, st.text(st.characters(categories=["Cs"]), min_size=1, max_size=3), st.just("-1 2")
    )
)
def test_fuzz_generate(toy_runs, prompt: str) -> None:
    """A prompt of known symbols that fits is continued; anything else (empty, whitespace only,
    unknown symbols, a lone surrogate, longer than the model) is a one-line error."""
    argv = ["generate", str(toy_runs / "reverse-lm"), f"--prompt={prompt}", "--max-new-tokens", "3"]
    code, out, err, _ = _cli(argv)
    fits = prompt.split() and _is_symbols(prompt) and len(prompt.split()) <= 12  # + 3 <= 18
    if fits:
        assert code == 0, err
        assert out.startswith(prompt)
    else:
        _one_line_error(code, err)


@pytest.mark.slow
@settings(max_examples=30, deadline=None)
@given(data=STDIN)
def test_fuzz_classify(sst2_run, data: bytes) -> None:
    """Every line, empty, control characters or 100,000 characters long, gets a label and its
    probability; only bytes that are not UTF-8 are an error."""
    code, out, err, _ = _cli(["classify", str(sst2_run.run_dir)], data)
    text = _utf8(data)
    if text is None:
        assert "standard input is not UTF-8" in _one_line_error(code, err)
        return
    assert code == 0, err
    answers = out.splitlines()
    assert len(answers) in _line_counts(text)
    for answer in answers:
        label, probability = answer.split("\t")
        assert label in ("negative", "positive") and 0.5 <= float(probability) <= 1.0


@pytest.mark.slow
@settings(max_examples=20, deadline=None)
@given(split=st.one_of(st.sampled_from(["val", "test", "train", "dev", "VAL", ""]), st.text()))
def test_fuzz_eval_split(toy_runs, split: str) -> None:
    """A split the task has is evaluated; any other name is refused with the allowed names."""
    code, out, err, _ = _cli(["eval", str(toy_runs / "reverse"), f"--split={split}"])
    if split in ("train", "val", "test"):
        assert code == 0, err
        assert f"{split}_loss" in json.loads(out)
    else:
        line = _one_line_error(code, err)
        assert f"unknown split {split!r} for task 'reverse': choose one of train, val, test" in line


LM_TINY = [
    "tokenizer=char",
    "min_freq=1",
    "context=8",
    "val_fraction=0.3",
    "test_fraction=0.0",
    "d_model=16",
    "n_heads=2",
    "d_ff=32",
    "n_layers=1",
    "max_steps=1",
    "batch_size=2",
    "eval_every=1",
    "warmup_steps=1",
    "tensorboard=false",
    "plots=false",
]


@pytest.mark.slow
@settings(max_examples=12, deadline=None)
@given(data=STDIN)
def test_fuzz_train_data(tmp_path_factory: pytest.TempPathFactory, data: bytes) -> None:
    """`train shakespeare --data FILE` on a file of hostile lines, of bytes that are not UTF-8,
    or empty: a trained run, or one line naming the file (and line) or what is missing."""
    folder = tmp_path_factory.mktemp("fuzz")
    path = folder / "data.txt"
    path.write_bytes(data)
    sets = [arg for s in LM_TINY for arg in ("--set", s)]
    argv = ["train", "shakespeare", "--data", str(path), "--out", str(folder / "run"), *sets]
    code, out, err, _ = _cli([*argv, "--device", "cpu"])
    if _utf8(data) is None:
        assert f"{path}:" in _one_line_error(code, err)
    elif code != 0:
        _one_line_error(code, err)
    else:
        assert (folder / "run" / "model.safetensors").is_file()
        assert Path(out.splitlines()[0].removeprefix("run directory: ")) == folder / "run"


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["ablate", "no-attention"], "unknown ablation 'no-attention'"),
        (["ablate", "no-residual", "--seeds", "0"], "--seeds must be an integer >= 1, got 0"),
        (["ablate", "no-residual", "--device", "tpu"], "unknown device 'tpu'"),
    ],
)
def test_ablate_refuses_bad_input_in_one_line(capsys, tmp_path, argv, message):
    assert message in _error(capsys, [*argv, "--out", str(tmp_path / "a")])
    assert not (tmp_path / "a").exists()


@pytest.mark.slow
def test_ablate_quick_writes_its_figure_and_tables(capsys, tmp_path):
    out = tmp_path / "nope"
    assert main(["ablate", "no-positional-encoding", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "permutation-equivariant" in printed and "results.md" in printed
    md = (out / "results.md").read_text(encoding="utf-8")
    assert "`aiayn ablate no-positional-encoding --quick --out " in md
    assert (out / "no_positional_encoding.png").is_file()

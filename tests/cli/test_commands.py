"""The subcommands end to end, and how `main` reports: bad input ends with one line,
`aiayn: error: ...`, and exit code 2, never a traceback."""

import json
import subprocess
import sys

import pytest

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
def test_input_longer_than_the_model(runs):
    out = _translate(runs, (" ".join(["1"] * 200) + "\n").encode())
    assert out.returncode == 2 and b"line 1 has 200 tokens" in out.stderr


@pytest.mark.slow
def test_translate_and_eval_work(capsys, runs):
    out = _translate(runs, b"1 2 3\n\n4 5\n")
    assert out.returncode == 0 and len(out.stdout.decode().splitlines()) == 3
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

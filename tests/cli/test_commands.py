"""Bad input ends with one line, `aiayn: error: ...`, and exit code 2, never a traceback."""

import subprocess
import sys

import pytest

from aiayn.app.train import TrainRequest, train
from aiayn.cli import main


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("runs")

    small = [
        "d_model=16",
        "n_heads=2",
        "d_ff=32",
        "max_steps=5",
        "n_train=64",
        "n_val=16",
        "eval_every=5",
        "batch_size=16",
    ]
    for task in ("reverse", "reverse-lm"):
        train(TrainRequest(task=task, out=root / task, device="cpu", sets=small))
    return root


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


def _translate(runs, data: bytes):
    return subprocess.run(
        [sys.executable, "-m", "aiayn", "translate", str(runs / "reverse"), "--beam", "1"],
        input=data,
        capture_output=True,
        timeout=120,
    )


def test_non_utf8_stdin_in_a_real_process(runs):
    out = _translate(runs, b"1 2 3\n\xff\xfe 4\n")
    assert out.returncode == 2
    assert out.stderr.decode().strip().startswith("aiayn: error: standard input is not UTF-8")
    assert b"Traceback" not in out.stderr


def test_input_longer_than_the_model(runs):
    out = _translate(runs, (" ".join(["1"] * 200) + "\n").encode())
    assert out.returncode == 2 and b"line 1 has 200 tokens" in out.stderr


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

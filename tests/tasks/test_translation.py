"""The translation task end to end on a few hundred Multi30k pairs: joint BPE, a few training
steps, beam decoding, sacreBLEU on the output, `aiayn translate`, `aiayn eval`, `aiayn average`,
and the errors a user can cause (misaligned files)."""

import gzip
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sacrebleu
import torch

from aiayn.app.runs import load_run
from aiayn.cli import main
from aiayn.config import TrainConfig
from aiayn.decoding import SearchOptions
from aiayn.evaluation.bleu import corpus_scores
from aiayn.tasks import get_task

REPO = Path(__file__).resolve().parents[2]
DATA_DIR = Path(os.environ.get("AIAYN_DATA_DIR") or REPO.parent / "shared" / "data")
MULTI30K = DATA_DIR / "multi30k"


def _lines(name: str, n: int, skip: int = 0) -> list[str]:
    with gzip.open(MULTI30K / name, "rt", encoding="utf-8") as f:
        return [line.rstrip("\n") for line in f][skip : skip + n]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """train (300 pairs), val and test (12 each) from Multi30k, as plain de/en files."""
    if not (MULTI30K / "train.de.gz").is_file():
        pytest.skip(f"no local Multi30k copy under {MULTI30K} (set AIAYN_DATA_DIR)")
    root = tmp_path_factory.mktemp("corpus")
    files = {}
    for split, n in (("train", 300), ("val", 12), ("test", 12)):
        for side, lang in (("src", "de"), ("tgt", "en")):
            path = root / f"{split}.{lang}"
            path.write_text(
                "\n".join(
                    _lines(f"train.{lang}.gz", n, skip={"train": 0, "val": 300, "test": 330}[split])
                )
                + "\n",
                encoding="utf-8",
            )
            files[f"{split}_{side}"] = path
    return files


def _sets(files: dict[str, Path]) -> list[str]:
    sets = [f"{k}={v}" for k, v in files.items()]
    return [
        *sets,
        "bpe_vocab_size=400",
        "max_positions=48",
        "eval_bleu_sentences=8",
        "reference_sentences=8",
        "max_steps=12",
        "batch_tokens=1024",
        "warmup_steps=4",
        "eval_every=6",
        "checkpoint_every=6",
        "log_every=6",
        "beam=3",
        # fp32, not "auto" (bf16 on a CPU that has it): the summary's scores are compared with
        # those of the saved model's fp32 translations
        "precision=fp32",
    ]


@pytest.fixture(scope="module")
def run_dir(corpus, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "translation"
    argv = ["train", "translation", "--preset", "tiny", "--device", "cpu", "--out", str(out)]
    for s in _sets(corpus):
        argv += ["--set", s]
    assert main(argv) == 0
    return out


def _sacrebleu(run, split: str, options: SearchOptions) -> tuple[float, float]:
    """(BLEU, chrF) of a loaded run's translations of `split`, scored by sacrebleu itself on
    the corpus files (not through aiayn.evaluation)."""
    opts = run.task.opts
    sources = Path(opts[f"{split}_src"]).read_text(encoding="utf-8").splitlines()
    references = Path(opts[f"{split}_tgt"]).read_text(encoding="utf-8").splitlines()
    with torch.no_grad():
        hypotheses = run.task.translate(run.model, sources, options)
    assert len(hypotheses) == len(references) == 12
    return (
        sacrebleu.corpus_bleu(hypotheses, [references]).score,
        sacrebleu.corpus_chrf(hypotheses, [references]).score,
    )


def test_training_writes_scores_with_signatures(run_dir):
    summary = json.loads((run_dir / "summary.json").read_text())
    assert summary["reloaded_model_generates_the_same"] is True
    assert summary["val_loss"] < summary["untrained_val_loss"]
    run = load_run(run_dir, device=torch.device("cpu"))
    for split in ("val", "test"):
        for kind, options in (
            ("greedy", SearchOptions()),
            ("beam", SearchOptions(beam_size=3, alpha=0.6)),
        ):
            scores = summary[f"{split}_{kind}"]
            bleu, chrf = _sacrebleu(run, split, options)
            assert scores["bleu"] == pytest.approx(bleu) and scores["chrf"] == pytest.approx(chrf)
            assert chrf > 0.0  # character n-grams match even where no word 4-gram does
            assert scores["bleu_signature"].startswith("nrefs:1|")
            assert "tok:13a" in scores["bleu_signature"]
            assert "lc" in scores["bleu_lc_tok_signature"]
            assert scores["n_sentences"] == 12
    assert (run_dir / "tokenizer" / "tokenizer.json").is_file()
    metrics = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    assert any("val_bleu_greedy_first8" in m for m in metrics)


def test_bleu_of_references_against_themselves_is_100(corpus):
    refs = corpus["test_tgt"].read_text(encoding="utf-8").splitlines()
    assert corpus_scores(refs, refs).bleu == pytest.approx(100.0)


def test_resume_loads_the_saved_tokenizer(run_dir, corpus):
    saved = (run_dir / "tokenizer" / "tokenizer.json").read_text()
    task = get_task("translation", {k: str(v) for k, v in corpus.items()} | {"bpe_vocab_size": 50})
    fields = task.prepare(run_dir, TrainConfig())
    assert fields["vocab_size"] > 50  # the saved 400-token vocabulary, not a new one of 50
    assert (run_dir / "tokenizer" / "tokenizer.json").read_text() == saved


@pytest.mark.slow
def test_translate_reads_stdin_in_a_subprocess(run_dir):
    lines = "Ein Mann fährt Fahrrad.\n\nZwei Hunde spielen im Schnee.\n"
    done = subprocess.run(
        [sys.executable, "-m", "aiayn", "translate", str(run_dir), "--beam", "2"],
        input=lines,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out = done.stdout.split("\n")
    assert len(out) == 4 and out[-1] == ""  # three lines of output, in input order
    assert out[1] == ""  # an empty line translates to an empty line


def test_eval_average_and_averaged_checkpoint(run_dir, capsys):
    assert main(["eval", str(run_dir), "--split", "test", "--device", "cpu"]) == 0
    metrics = json.loads(capsys.readouterr().out)
    assert metrics["test_beam"] == 3 and "test_bleu_signature" in metrics
    run = load_run(run_dir, device=torch.device("cpu"))
    bleu, chrf = _sacrebleu(run, "test", SearchOptions(beam_size=3, alpha=0.6))
    assert metrics["test_bleu"] == pytest.approx(bleu) and metrics["test_chrf"] == pytest.approx(
        chrf
    )
    assert main(["average", str(run_dir), "--last", "2"]) == 0
    averaged = load_run(run_dir, checkpoint="averaged").model
    final = load_run(run_dir).model
    differs = any(
        not torch.equal(a, b)
        for a, b in zip(averaged.parameters(), final.parameters(), strict=True)
    )
    assert differs


def test_attention_heatmap_is_a_png(run_dir, tmp_path, capsys):
    out = tmp_path / "attn.png"
    argv = ["attention", str(run_dir), "--sentence", "Ein Hund läuft.", "--out", str(out)]
    assert main([*argv, "--average", "--device", "cpu"]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


@pytest.mark.slow
def test_misaligned_files_are_a_one_line_error(tmp_path):
    (tmp_path / "a.de").write_text("eins\nzwei\ndrei\n", encoding="utf-8")
    (tmp_path / "a.en").write_text("one\ntwo\n", encoding="utf-8")
    argv = ["train", "translation", "--out", str(tmp_path / "run")]
    for split in ("train", "val"):
        argv += [
            "--set",
            f"{split}_src={tmp_path / 'a.de'}",
            "--set",
            f"{split}_tgt={tmp_path / 'a.en'}",
        ]
    done = subprocess.run(
        [sys.executable, "-m", "aiayn", *argv], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2
    err = done.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("aiayn: error: ")
    assert "differ in length" in err[0] and "3 lines" in err[0]


def test_unknown_direction_and_missing_files_are_errors(tmp_path):
    assert (
        main(["train", "multi30k", "--out", str(tmp_path / "r"), "--set", "direction=fr-en"]) == 2
    )
    assert main(["train", "translation", "--out", str(tmp_path / "s")]) == 2

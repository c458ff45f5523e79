import hashlib
import random
import shutil
from pathlib import Path

import pytest
import torch

from aiayn import build_model, model_preset
from aiayn.cli import main
from aiayn.training.checkpoint import (
    average_checkpoints,
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    load_weights,
    mark_best,
    save_checkpoint,
    save_weights,
)


def _model(seed: int):
    torch.manual_seed(seed)
    return build_model(model_preset("tiny", vocab_size=30))


def test_weights_round_trip_with_tied_embeddings(tmp_path):
    a, b = _model(0), _model(1)
    save_weights(a, tmp_path / "m.safetensors")
    load_weights(b, tmp_path / "m.safetensors")
    for (name, p), q in zip(a.state_dict().items(), b.state_dict().values(), strict=True):
        assert torch.equal(p, q), name
    # The tie survives loading: the output projection is still the embedding matrix.
    assert b.generator.weight is b.tgt_embed.token.weight


def test_checkpoints_keep_last_k_and_best(tmp_path):
    model = _model(0)
    for step in (1, 2, 3):
        path = save_checkpoint(tmp_path, step=step, model=model, state={"step": step}, keep=2)
        if step == 1:
            mark_best(tmp_path, name=path.name, metric="val_loss", value=1.0, step=1)
    save_checkpoint(tmp_path, step=4, model=model, state={"step": 4}, keep=2)
    names = [p.name for p in list_checkpoints(tmp_path)]
    assert names == ["step-0000001", "step-0000003", "step-0000004"]
    assert latest_checkpoint(tmp_path).name == "step-0000004"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temp leftovers
    state = load_checkpoint(tmp_path / "step-0000004", _model(5))
    assert state == {"step": 4}


def test_average_of_checkpoints(tmp_path):
    a, b = _model(0), _model(1)
    save_checkpoint(tmp_path, step=1, model=a, state={}, keep=5)
    save_checkpoint(tmp_path, step=2, model=b, state={}, keep=5)
    c = _model(2)
    average_checkpoints(list_checkpoints(tmp_path), c)
    for name, p in c.state_dict().items():
        torch.testing.assert_close(p, (a.state_dict()[name] + b.state_dict()[name]) / 2)
    assert c.generator.weight is c.tgt_embed.token.weight


# ------------------------------------------------------------------ damaged copies of a real run
# One small trained run (checkpoints at steps 2, 4 and 6, best.json, final weights), copied and
# damaged in 20 ways with a seeded rng. Every variant has one defined outcome through the CLI:
#   "fallback": `aiayn train --resume` exits 0, the warnings name each damaged file and the
#               checkpoint resumed from;
#   "resume":   it exits 0 from the newest checkpoint (nothing was damaged that it needs);
#   "refuse":   the command exits 2 with one line `aiayn: error: ...` naming the file.
# Never a traceback, and the bytes of every checkpoint left intact are the same afterwards.
# The offsets come from a generator seeded with the variant's name: the same bytes every run.
CK = "checkpoints"
NEWEST, MIDDLE, OLDEST = f"{CK}/step-0000006", f"{CK}/step-0000004", f"{CK}/step-0000002"


def _truncate(path: Path, rng: random.Random) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: rng.randrange(0, len(data))])


def _flip(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    at = rng.randrange(len(data))
    data[at] ^= 1 << rng.randrange(8)
    path.write_bytes(bytes(data))


def _delete(path: Path, rng: random.Random) -> None:
    path.unlink()


def _broken_json(path: Path, rng: random.Random) -> None:
    text = path.read_text()
    path.write_text(text[: rng.randrange(1, len(text) - 1)])  # cut inside the object


def _garbage_line(path: Path, rng: random.Random) -> None:
    path.write_text(path.read_text() + "this is not a checksum line\n")


def _wrong_digest(path: Path, rng: random.Random) -> None:
    first, rest = path.read_text().split("\n", 1)
    digit = "0" if first[0] != "0" else "1"
    path.write_text(digit + first[1:] + "\n" + rest)


def _binary_junk(path: Path, rng: random.Random) -> None:
    path.write_bytes(bytes(rng.randrange(256) for _ in range(300)))


# (id, [(damage, file)], the command: "resume" or eval's --checkpoint, outcome, the files the
# output must name, the checkpoint a fallback resumes from)
W, S, SUMS = "model.safetensors", "state.pt", "SHA256SUMS"
VARIANTS = [
    ("truncated-newest-weights", [(_truncate, f"{NEWEST}/{W}")], "resume", "fallback", MIDDLE),
    ("truncated-newest-state", [(_truncate, f"{NEWEST}/{S}")], "resume", "fallback", MIDDLE),
    ("flipped-newest-weights", [(_flip, f"{NEWEST}/{W}")], "resume", "fallback", MIDDLE),
    ("flipped-newest-state", [(_flip, f"{NEWEST}/{S}")], "resume", "fallback", MIDDLE),
    ("deleted-newest-weights", [(_delete, f"{NEWEST}/{W}")], "resume", "fallback", MIDDLE),
    ("deleted-newest-state", [(_delete, f"{NEWEST}/{S}")], "resume", "fallback", MIDDLE),
    ("deleted-newest-sums", [(_delete, f"{NEWEST}/{SUMS}")], "resume", "fallback", MIDDLE),
    ("garbage-line-in-sums", [(_garbage_line, f"{NEWEST}/{SUMS}")], "resume", "fallback", MIDDLE),
    ("wrong-digest-in-sums", [(_wrong_digest, f"{NEWEST}/{SUMS}")], "resume", "fallback", MIDDLE),
    ("binary-sums", [(_binary_junk, f"{NEWEST}/{SUMS}")], "resume", "fallback", MIDDLE),
    (
        "two-newest-damaged",
        [(_truncate, f"{NEWEST}/{S}"), (_flip, f"{MIDDLE}/{W}")],
        "resume", "fallback", OLDEST,
    ),
    ("oldest-damaged", [(_truncate, f"{OLDEST}/{S}")], "resume", "fallback", NEWEST),
    ("deleted-latest", [(_delete, f"{CK}/latest")], "resume", "resume", NEWEST),
    ("every-checkpoint-damaged", [(_flip, f"{c}/{S}") for c in (NEWEST, MIDDLE, OLDEST)],
     "resume", "refuse", None),
    ("broken-config-json", [(_broken_json, "config.json")], "resume", "refuse", None),
    ("broken-best-json", [(_broken_json, f"{CK}/best.json")], "resume", "refuse", None),
    ("truncated-final-weights", [(_truncate, W)], "final", "refuse", None),
    ("flipped-final-weights", [(_flip, W)], "final", "refuse", None),
    ("garbage-final-sidecar", [(_binary_junk, f"{W}.sha256")], "final", "refuse", None),
    ("flipped-latest-weights", [(_flip, f"{NEWEST}/{W}")], "latest", "refuse", None),
]  # fmt: skip


# A wrong digest in SHA256SUMS cannot be told from a changed file: the file it lists is named.
NAMED = {"wrong-digest-in-sums": {f"{NEWEST}/{W}"}}


def _hashes(run: Path) -> dict[str, str]:
    return {
        str(p.relative_to(run)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted((run / CK).glob("step-*/*"))
    }


def _names(text: str, path: Path) -> bool:
    """Whether `text` names `path`: in full, or its folder and its name ("DIR has no NAME")."""
    return str(path) in text or (str(path.parent) in text and path.name in text)


def _main(argv: list[str]) -> int:
    try:
        return main(argv)
    except BaseException as error:  # what would have been a traceback
        pytest.fail(f"aiayn {' '.join(argv)} raised {type(error).__name__}: {error}")


def test_there_are_twenty_variants_each_with_its_own_name():
    assert len(VARIANTS) == 20 and len({v[0] for v in VARIANTS}) == 20


@pytest.mark.parametrize(
    ("damages", "command", "outcome", "resumed_from"),
    [v[1:] for v in VARIANTS],
    ids=[v[0] for v in VARIANTS],
)
def test_a_damaged_run_has_a_defined_outcome(
    checkpointed_run, tmp_path, capsys, caplog, request, damages, command, outcome, resumed_from
):
    rng = random.Random(request.node.callspec.id)
    run = Path(shutil.copytree(checkpointed_run, tmp_path / "run"))
    before = _hashes(run)
    for damage, name in damages:
        damage(run / name, rng)
    damaged = NAMED.get(request.node.callspec.id, {name for _, name in damages})
    if command == "resume":
        argv = ["train", "reverse", "--out", str(run), "--device", "cpu", "--resume"]
        argv += ["--set", "max_steps=8"]
    else:
        argv = ["eval", str(run), "--device", "cpu", "--checkpoint", command]
    with caplog.at_level("WARNING", logger="aiayn"):
        code = _main(argv)
    err = capsys.readouterr().err
    assert "Traceback" not in err
    if outcome == "refuse":
        lines = err.strip().splitlines()
        assert code == 2, err
        assert len(lines) == 1 and lines[0].startswith("aiayn: error: "), err
        assert any(_names(lines[0], run / name) for name in damaged), lines[0]
    else:
        assert code == 0, err
        warnings = caplog.text
        for name in damaged if outcome == "fallback" else ():
            assert _names(warnings, run / name), (name, warnings)
        if outcome == "fallback":
            assert f"resuming from {run / resumed_from}, the newest intact" in warnings
        else:
            assert "passed over" not in warnings
        state = torch.load(run / CK / "step-0000008" / "state.pt", weights_only=True)
        assert state["step"] == 8
    damaged_dirs = {str(Path(name).parent) for _, name in damages}
    after = _hashes(run)
    for name, digest in before.items():
        if str(Path(name).parent) not in damaged_dirs:
            assert after.get(name) == digest, f"{name} changed"


# ---------------------------------------------------------------- nothing runs that should not
class _TouchesAFile:
    """Unpickled, this calls Path.touch(marker): what a crafted state.pt could do instead."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _plant(checkpoint: Path, marker: Path) -> None:
    """Replace the checkpoint's state.pt with one holding the payload, and rewrite SHA256SUMS to
    match, as someone who can write the files would: the checksums pass, the load must refuse."""
    state = torch.load(checkpoint / "state.pt", weights_only=True)
    torch.save({**state, "payload": _TouchesAFile(marker)}, checkpoint / "state.pt")
    names = ["model.safetensors", "state.pt"]
    sums = "".join(
        f"{hashlib.sha256((checkpoint / n).read_bytes()).hexdigest()}  {n}\n" for n in names
    )
    (checkpoint / "SHA256SUMS").write_text(sums)


def test_the_payload_is_live_when_unpickled_unsafely(checkpointed_run, tmp_path):
    """The test below is not vacuous: an unsafe load of the planted file does create it."""
    checkpoint = Path(shutil.copytree(checkpointed_run / NEWEST, tmp_path / "step"))
    marker = tmp_path / "created-by-unpickling"
    _plant(checkpoint, marker)
    torch.load(checkpoint / "state.pt", weights_only=False)
    assert marker.exists()


@pytest.mark.parametrize("others", ["only-checkpoint", "older-checkpoints-too"])
def test_a_state_pt_that_would_run_code_is_refused_and_nothing_runs(
    checkpointed_run, tmp_path, capsys, caplog, others
):
    run = Path(shutil.copytree(checkpointed_run, tmp_path / "run"))
    marker = tmp_path / "created-by-unpickling"
    if others == "only-checkpoint":
        shutil.rmtree(run / MIDDLE)
        shutil.rmtree(run / OLDEST)
    _plant(run / NEWEST, marker)
    argv = ["train", "reverse", "--out", str(run), "--device", "cpu", "--resume"]
    with caplog.at_level("WARNING", logger="aiayn"):
        code = _main([*argv, "--set", "max_steps=8"])
    err = capsys.readouterr().err
    assert not marker.exists()
    state = run / NEWEST / "state.pt"
    if others == "only-checkpoint":
        lines = err.strip().splitlines()
        assert code == 2 and len(lines) == 1 and lines[0].startswith("aiayn: error: "), err
        assert f"{state} is refused: it holds objects a weights-only load does not allow" in err
    else:  # passed over like any damaged checkpoint, naming the file
        assert code == 0, err
        assert f"{state} is refused" in caplog.text
        assert f"resuming from {run / MIDDLE}" in caplog.text

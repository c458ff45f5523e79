"""Screenshots of the report and of the live page, drawn from synthetic data or from a real run.

    python benchmarks/screenshots.py [--out runs/screenshots]
    python benchmarks/screenshots.py --run runs/reverse --text "3 1 4 1 5 9 2 6" [--out DIR]

With --run, the report is `aiayn report`'s for that run and the live page serves that run (the
pictures in docs/images come from a trained `reverse` run this way).

Renders a demo report (curves of a made-up run with warm-up and inverse-square-root learning
rate, a German-English sentence pair with made-up attention) and serves the live page on a
made-up word-by-word translator; Debian's Chromium (/usr/bin/chromium) driven by playwright takes
the pictures. Needs the dev extra (playwright, fastapi, uvicorn). Writes report.html and PNGs to
--out; nothing here is a measurement, and nothing it writes is committed.
"""

from __future__ import annotations

import argparse
import math
import random
import socket
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from aiayn.web import Answer, AttentionView, ReportData, create_app, render_report

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
SOURCE = ["zwei", "junge", "Männer", "spielen", "im", "Park", "Fußball", "."]
TARGET = ["two", "young", "men", "play", "soccer", "in", "the", "park", "."]
# which source word each target word comes from (soccer <- Fußball, the park <- im Park)
ALIGN = [0, 1, 2, 3, 6, 4, 4, 5, 7]
WORDS = {
    "zwei": "two",
    "junge": "young",
    "männer": "men",
    "spielen": "play",
    "im": "in the",
    "park": "park",
    "fußball": "soccer",
    "ein": "a",
    "hund": "dog",
    "läuft": "runs",
    ".": ".",
}


def softmax(scores: list[float]) -> list[float]:
    top = max(scores)
    exps = [math.exp(s - top) for s in scores]
    return [e / sum(exps) for e in exps]


def attention(align: list[int], n_keys: int, *, layers: int, heads: int, seed: int) -> list:
    """(L, H, Tq, Tk) weights: later layers and some heads follow the alignment more sharply."""
    rng = random.Random(seed)
    out = []
    for layer in range(layers):
        sharp = 1.0 + 1.5 * layer
        rows = []
        for head in range(heads):
            shift = (head % 3) - 1 if head < heads - 1 else 0  # heads looking one word aside
            rows.append(
                [
                    softmax(
                        [
                            sharp * 2.5 * (k == min(max(a + shift, 0), n_keys - 1))
                            + rng.gauss(0, 0.4)
                            for k in range(n_keys)
                        ]
                    )
                    for a in align
                ]
            )
        out.append(rows)
    return out


def demo_report() -> ReportData:
    rng = random.Random(0)
    warmup, d_model = 4000, 512
    metrics: list[dict[str, Any]] = []
    for step in range(100, 30_001, 100):
        lr = d_model**-0.5 * min(step**-0.5, step * warmup**-1.5)
        loss = 1.9 + 7.5 * math.exp(-step / 2500) + 0.6 * math.exp(-step / 12000)
        metrics.append(
            {
                "step": step,
                "epoch": step // 1800,
                "train_loss": loss + rng.gauss(0, 0.03),
                "lr": lr,
                "targets_per_second": 24_000 + rng.gauss(0, 600),
                "seconds": step * 0.11,
            }
        )
        if step % 2000 == 0:
            metrics.append(
                {
                    "step": step,
                    "val_loss": loss + 0.25,
                    "val_bleu_greedy_first200": 38 * (1 - math.exp(-step / 7000)),
                }
            )
    config = {
        "task": "multi30k",
        "model": {
            "arch": "encoder-decoder",
            "d_model": d_model,
            "n_heads": 8,
            "d_ff": 2048,
            "n_layers": 6,
            "p_drop": 0.1,
            "norm_first": False,
            "vocab_size": 10_000,
        },
        "train": {
            "batch_tokens": 12_000,
            "lr_schedule": "noam",
            "warmup_steps": warmup,
            "label_smoothing": 0.1,
            "max_steps": 30_000,
            "beta2": 0.98,
        },
        "task_options": {"direction": "de-en", "bpe_vocab": 10_000},
    }
    summary = {
        "steps": 30_000,
        "val_loss": 2.16,
        "val_greedy": {"bleu": 36.8, "chrf": 58.9},
        "val_beam": {"bleu": 38.1, "chrf": 59.7, "beam": 4, "alpha": 0.6},
        "parameters": 52_961_280,
        "device": "cuda",
    }
    samples = [
        {
            "input": " ".join(SOURCE),
            "output": " ".join(TARGET),
            "reference": "two young men are playing soccer in the park .",
        },
        {
            "input": "ein Hund läuft durch den Schnee .",
            "output": "a dog runs through the snow .",
            "reference": "a dog is running through the snow .",
        },
    ]
    views = [
        AttentionView(
            title="encoder-decoder attention",
            query_tokens=TARGET,
            key_tokens=SOURCE,
            weights=attention(ALIGN, len(SOURCE), layers=6, heads=8, seed=1),
        ),
        AttentionView(
            title="encoder self-attention",
            query_tokens=SOURCE,
            key_tokens=SOURCE,
            weights=attention(list(range(len(SOURCE))), len(SOURCE), layers=6, heads=8, seed=2),
        ),
    ]
    return ReportData(
        title="multi30k de-en, base model",
        config=config,
        metrics=metrics,
        summary=summary,
        samples=samples,
        attention=views,
    )


class DemoTranslator:
    """Word by word from a tiny dictionary, with attention on the word each comes from."""

    kind = "translation"

    def translate(self, text: str, *, beam: int, alpha: float) -> Answer:
        source = text.split()
        target, align = [], []
        for i, word in enumerate(source):
            for out in WORDS.get(word.lower(), word).split():
                target.append(out)
                align.append(i)
        view = AttentionView(
            title="encoder-decoder attention",
            query_tokens=target,
            key_tokens=source,
            weights=attention(align, len(source), layers=2, heads=4, seed=3),
        )
        return Answer(text=" ".join(target), attention=view)

    def generate(self, prompt: str, **options: Any) -> Iterator[str]:
        raise NotImplementedError

    def classify(self, text: str) -> Answer:
        raise NotImplementedError


def start_server(app: Any) -> tuple[str, Any]:
    import uvicorn

    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.01)
    return f"http://127.0.0.1:{sock.getsockname()[1]}", server


def real_run(run_dir: Path, text: str, out: Path) -> None:
    """report.png and serve.png of a trained run: its report, and its live page answering `text`."""
    from playwright.sync_api import sync_playwright

    from aiayn.app.report import write_report
    from aiayn.app.serve import RunBackend
    from aiayn.app.use import open_run

    run = open_run(run_dir, device="cpu")
    report = write_report(run, out / "report.html", text=text)
    url, server = start_server(create_app(RunBackend(run), title=f"aiayn: {run.task.name}"))
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        browser = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
        )
        page = browser.new_page()
        last = str(run.model_config.decoder_layers - 1)  # the last layer attends most sharply
        page.goto(report.as_uri())
        page.wait_for_selector(".heatmap")
        page.select_option("select[name=layer]", last)
        page.hover(".heatmap .token.query[data-q='1']")
        page.screenshot(path=str(out / "report.png"), full_page=True)
        page.goto(url)
        page.fill("#input", text)
        page.click("#submit")
        page.wait_for_selector("#attention .heatmap")
        page.select_option("#attention select[name=layer]", last)
        page.hover(".heatmap .token.key[data-k='0']")
        page.screenshot(path=str(out / "serve.png"))
        browser.close()
    server.should_exit = True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=ROOT / "runs" / "screenshots")
    parser.add_argument("--run", type=Path, help="a trained run to picture instead of demo data")
    parser.add_argument("--text", default="3 1 4 1 5 9 2 6", help="the input shown with --run")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.run is not None:
        real_run(args.run, args.text, args.out)
        for path in sorted(args.out.iterdir()):
            print(path)
        return
    from playwright.sync_api import sync_playwright

    args.out.mkdir(parents=True, exist_ok=True)
    report = args.out / "report.html"
    report.write_text(render_report(demo_report()), encoding="utf-8")
    url, server = start_server(create_app(DemoTranslator(), title="multi30k de-en"))
    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        browser = pw.chromium.launch_persistent_context(
            profile,
            executable_path=CHROMIUM,
            args=CHROMIUM_ARGS,
            headless=True,
            viewport={"width": 1280, "height": 900},
            device_scale_factor=2,
        )
        page = browser.new_page()
        page.goto(report.as_uri())
        page.screenshot(path=str(args.out / "report.png"), full_page=True)
        page.locator("#curves").screenshot(path=str(args.out / "report-curves.png"))
        page.select_option("select[name=layer]", "5")
        page.select_option("select[name=head]", "7")
        page.hover(".heatmap .token.query[data-q='4']")  # "soccer" looks back at "Fußball"
        page.locator("#attention").screenshot(path=str(args.out / "report-attention.png"))

        page.goto(url)
        page.fill("#input", "zwei junge Männer spielen im Park Fußball .")
        page.click("#submit")
        page.wait_for_selector("#attention .heatmap")
        page.hover(".heatmap .token.key[data-k='6']")
        page.screenshot(path=str(args.out / "serve-translation.png"))
        browser.close()
    server.should_exit = True
    for path in sorted(args.out.iterdir()):
        print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)


if __name__ == "__main__":
    main()

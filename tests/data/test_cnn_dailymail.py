"""CNN/DailyMail on small story archives written here in the upstream format, read from a local
folder and downloaded from a local HTTP server."""

from __future__ import annotations

import functools
import hashlib
import http.server
import io
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiayn.data.cnn_dailymail import cnn_dailymail, parse_story, story_id
from aiayn.data.remote_files import REMOTE_FILES, RemoteFile
from aiayn.errors import AiaynError

STORY = """Paris (CNN) -- The first paragraph.

A caption without a period

He said: "It ends in a quote"

@highlight

First highlight

@highlight

Second highlight.
"""

URLS = {
    "train": ["http://www.cnn.com/a", "http://www.dailymail.co.uk/b", "http://www.cnn.com/empty"],
    "val": ["http://www.cnn.com/v"],
    "test": ["http://www.dailymail.co.uk/t"],
}


def test_story_id_is_the_sha1_of_the_url() -> None:
    url = "http://www.cnn.com/a"
    assert story_id(url) == hashlib.sha1(url.encode()).hexdigest()


def test_parse_story_follows_version_3() -> None:
    article, highlights = parse_story(STORY)
    assert article == (
        "Paris (CNN) -- The first paragraph. A caption without a period . "
        'He said: "It ends in a quote"'
    )
    assert highlights == "First highlight .\nSecond highlight."


def test_story_without_highlights() -> None:
    assert parse_story("Only text.\n") == ("Only text.", "")


def _tgz(folder: str, stories: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for url, text in stories.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"{folder}/stories/{story_id(url)}.story")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _files() -> dict[str, bytes]:
    """The five upstream files, shrunk: two archives and the three split lists."""

    def story(tag: str) -> str:
        return f"Article {tag}.\n\n@highlight\n\nHighlight {tag}\n"

    cnn = {u: story(u[-1]) for u in ("http://www.cnn.com/a", "http://www.cnn.com/v")}
    cnn["http://www.cnn.com/empty"] = "@highlight\n\nno article\n"
    dm = {u: story(u[-1]) for u in ("http://www.dailymail.co.uk/b", "http://www.dailymail.co.uk/t")}
    files = {
        "cnn_stories.tgz": _tgz("cnn", cnn),
        "dailymail_stories.tgz": _tgz("dailymail", dm),
    }
    for split, urls in URLS.items():
        files[f"all_{split}.txt"] = "".join(u + "\n" for u in urls).encode()
    return files


@pytest.fixture
def no_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("AIAYN_DATA_DIR", raising=False)
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_splits_from_a_local_folder(tmp_path: Path, no_env: Path) -> None:
    folder = tmp_path / "data" / "cnn_dailymail"
    folder.mkdir(parents=True)
    for name, data in _files().items():
        (folder / name).write_bytes(data)
    # the story with no article is left out; CNN comes before Daily Mail
    assert cnn_dailymail("train", data_dir=tmp_path / "data") == [
        ("Article a.", "Highlight a ."),
        ("Article b.", "Highlight b ."),
    ]
    assert cnn_dailymail("validation", data_dir=tmp_path / "data") == [
        ("Article v.", "Highlight v .")
    ]
    assert cnn_dailymail("dev", data_dir=tmp_path / "data") == cnn_dailymail(
        "val", data_dir=tmp_path / "data"
    )
    assert cnn_dailymail("test", data_dir=tmp_path / "data") == [("Article t.", "Highlight t .")]


@pytest.fixture
def served(tmp_path: Path) -> Iterator[str]:
    """The upstream files served over HTTP from a temporary folder; yields the base URL."""
    root = tmp_path / "served"
    root.mkdir()
    for name, data in _files().items():
        (root / name).write_bytes(data)

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args: object) -> None:
            pass

    handler = functools.partial(Quiet, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()
    thread.join()


def test_download_into_the_cache(
    served: str, no_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, data in _files().items():
        entry = RemoteFile(f"{served}/{name}", hashlib.sha256(data).hexdigest())
        monkeypatch.setitem(REMOTE_FILES, ("cnn_dailymail", name), entry)
    assert cnn_dailymail("test") == [("Article t.", "Highlight t .")]
    cached = sorted(p.name for p in (no_env / "cnn_dailymail").iterdir())
    assert cached == ["all_test.txt", "cnn_stories.tgz", "dailymail_stories.tgz"]


def test_damaged_archive(tmp_path: Path, no_env: Path) -> None:
    folder = tmp_path / "data" / "cnn_dailymail"
    folder.mkdir(parents=True)
    for name, data in _files().items():
        (folder / name).write_bytes(data if name != "cnn_stories.tgz" else data[:40])
    with pytest.raises(AiaynError, match="cannot read the story archive"):
        cnn_dailymail("train", data_dir=tmp_path / "data")


def test_unknown_split() -> None:
    with pytest.raises(ValueError, match="split must be one of"):
        cnn_dailymail("training")


def test_the_table_knows_every_file() -> None:
    for name in _files():
        assert ("cnn_dailymail", name) in REMOTE_FILES

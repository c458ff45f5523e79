"""data_path: local copies first, then the cache, then a verified, atomic download."""

from __future__ import annotations

import hashlib
import http.server
import io
import socket
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from aiayn.data.download import (
    RemoteFile,
    cache_dir,
    data_path,
    find_local,
    sha256_of,
)
from aiayn.errors import DataNotFoundError

HELLO = b"hello, world\n"


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _Server:
    """An HTTP server on 127.0.0.1 that serves `files` (path -> bytes) and counts requests."""

    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files
        self.requests: list[str] = []
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (the http.server name)
                server.requests.append(self.path)
                body = server.files.get(self.path)
                if body is None:
                    self.send_error(404)
                    return
                self.send_response(200)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: object) -> None:  # keep the test output quiet
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self.thread.start()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join()


@pytest.fixture
def server() -> Iterator[_Server]:
    s = _Server({"/hello.txt": HELLO})
    yield s
    s.close()


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty cache, and no AIAYN_DATA_DIR, so data_path has to download."""
    monkeypatch.delenv("AIAYN_DATA_DIR", raising=False)
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_download_lands_in_cache_and_is_reused(server: _Server, cache: Path) -> None:
    table = {("toy", "hello.txt"): RemoteFile(f"{server.base}/hello.txt", _sha(HELLO))}
    path = data_path("toy", "hello.txt", remote_files=table)
    assert path == cache / "toy" / "hello.txt"
    assert path.read_bytes() == HELLO
    assert data_path("toy", "hello.txt", remote_files=table) == path
    assert server.requests == ["/hello.txt"]  # the second call used the cache
    assert sorted(p.name for p in (cache / "toy").iterdir()) == ["hello.txt"]  # no temp files


def test_checksum_mismatch_raises_and_keeps_nothing(server: _Server, cache: Path) -> None:
    wrong = "0" * 64
    table = {("toy", "hello.txt"): RemoteFile(f"{server.base}/hello.txt", wrong)}
    with pytest.raises(DataNotFoundError) as info:
        data_path("toy", "hello.txt", remote_files=table)
    message = str(info.value)
    assert "hello.txt" in message and wrong in message and _sha(HELLO) in message
    assert list((cache / "toy").iterdir()) == []  # neither the file nor a temporary


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_unreachable_host_says_what_to_do(cache: Path) -> None:
    url = f"http://127.0.0.1:{_closed_port()}/hello.txt"
    table = {("toy", "hello.txt"): RemoteFile(url, _sha(HELLO))}
    with pytest.raises(DataNotFoundError) as info:
        data_path("toy", "hello.txt", remote_files=table)
    message = str(info.value)
    assert "\n" not in message
    assert "AIAYN_DATA_DIR" in message and "--data-dir" in message and "toy/hello.txt" in message
    assert not (cache / "toy" / "hello.txt").exists()


def test_http_error_is_data_not_found(server: _Server, cache: Path) -> None:
    table = {("toy", "gone.txt"): RemoteFile(f"{server.base}/gone.txt", _sha(HELLO))}
    with pytest.raises(DataNotFoundError, match="404"):
        data_path("toy", "gone.txt", remote_files=table)


def test_unknown_file_without_public_home(cache: Path) -> None:
    with pytest.raises(DataNotFoundError, match="no public home"):
        data_path("toy", "nowhere.txt", remote_files={})


def _zip(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return buffer.getvalue()


def test_zip_members_are_extracted_and_verified(server: _Server, cache: Path) -> None:
    train, dev = b"sentence\tlabel\ngood\t1\n", b"sentence\tlabel\nbad\t0\n"
    server.files["/SST-2.zip"] = _zip({"SST-2/train.tsv": train, "SST-2/dev.tsv": dev})
    url = f"{server.base}/SST-2.zip"
    table = {
        ("sst2", "train.tsv"): RemoteFile(url, _sha(train), member="SST-2/train.tsv"),
        ("sst2", "dev.tsv"): RemoteFile(url, _sha(dev), member="SST-2/dev.tsv"),
    }
    assert data_path("sst2", "train.tsv", remote_files=table).read_bytes() == train
    assert data_path("sst2", "dev.tsv", remote_files=table).read_bytes() == dev
    assert server.requests == ["/SST-2.zip"]  # one download brought both members
    assert sorted(p.name for p in (cache / "sst2").iterdir()) == ["dev.tsv", "train.tsv"]


def test_zip_member_checksum_mismatch(server: _Server, cache: Path) -> None:
    server.files["/a.zip"] = _zip({"A/x.tsv": b"x"})
    table = {("a", "x.tsv"): RemoteFile(f"{server.base}/a.zip", "f" * 64, member="A/x.tsv")}
    with pytest.raises(DataNotFoundError, match="checksum mismatch"):
        data_path("a", "x.tsv", remote_files=table)
    assert list((cache / "a").iterdir()) == []


def test_lookup_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """--data-dir, then AIAYN_DATA_DIR, then the cache."""
    roots = {}
    for name in ("explicit", "env", "cache"):
        roots[name] = tmp_path / name
        (roots[name] / "toy").mkdir(parents=True)
        (roots[name] / "toy" / "f.txt").write_text(name)
    monkeypatch.setenv("AIAYN_DATA_DIR", str(roots["env"]))
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(roots["cache"]))
    table: dict = {}
    assert data_path("toy", "f.txt", data_dir=roots["explicit"], remote_files=table) == (
        roots["explicit"] / "toy" / "f.txt"
    )
    (roots["explicit"] / "toy" / "f.txt").unlink()
    assert data_path(
        "toy", "f.txt", data_dir=roots["explicit"], remote_files=table
    ).read_text() == ("env")
    monkeypatch.delenv("AIAYN_DATA_DIR")
    assert data_path("toy", "f.txt", remote_files=table).read_text() == "cache"


def test_cache_dir_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("AIAYN_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert cache_dir() == tmp_path / "home" / ".cache" / "aiayn"
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "aiayn"
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "mine"))
    assert cache_dir() == tmp_path / "mine"


def test_sha256_of_is_hashlib_sha256(tmp_path: Path) -> None:
    (tmp_path / "f").write_bytes(HELLO)
    assert sha256_of(tmp_path / "f") == _sha(HELLO)


def test_find_local_tries_every_name_in_one_folder_before_the_next(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    explicit, env = tmp_path / "explicit", tmp_path / "env"
    (explicit / "toy").mkdir(parents=True)
    (env / "toy").mkdir(parents=True)
    (explicit / "toy" / "short.gz").write_text("explicit")
    (env / "toy" / "upstream.txt").write_text("env")
    monkeypatch.setenv("AIAYN_DATA_DIR", str(env))
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "cache"))
    names = ["upstream.txt", "short.gz"]
    assert find_local("toy", names, data_dir=explicit) == explicit / "toy" / "short.gz"
    assert find_local("toy", names) == env / "toy" / "upstream.txt"
    assert find_local("toy", ["absent.txt"], data_dir=explicit) is None


def test_unwritable_cache_is_data_not_found(
    server: _Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AIAYN_DATA_DIR", raising=False)
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("a file where the cache folder should be")
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(not_a_folder))
    table = {("toy", "hello.txt"): RemoteFile(f"{server.base}/hello.txt", _sha(HELLO))}
    with pytest.raises(DataNotFoundError, match="AIAYN_CACHE_DIR"):
        data_path("toy", "hello.txt", remote_files=table)


# ---------------------------------------------------------------------------------- offline
def test_the_suite_has_no_network_but_loopback_stays_open(network_attempts) -> None:
    """tests/conftest.py's guard: a connection to a public address, or a lookup of a public
    name, fails as it does offline; 127.0.0.1 still answers."""
    with socket.socket() as s, pytest.raises(ConnectionRefusedError, match="without a network"):
        s.connect(("192.0.2.1", 80))  # TEST-NET-1: never routed anyway
    with pytest.raises(socket.gaierror):
        socket.getaddrinfo("example.org", 443)
    assert network_attempts() == ["a connection to ('192.0.2.1', 80)", "a lookup of 'example.org'"]
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(1)
        with socket.create_connection(listener.getsockname(), timeout=5):
            pass
    assert len(network_attempts()) == 2


def test_a_download_that_cannot_happen_is_one_line_naming_both_ways_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture, network_attempts
) -> None:
    """`aiayn train multi30k` with no local copy, an empty cache and no network: exit 2 and one
    line saying where it looked and how to point aiayn at a copy."""
    from aiayn.cli import main

    monkeypatch.delenv("AIAYN_DATA_DIR", raising=False)
    monkeypatch.setenv("AIAYN_CACHE_DIR", str(tmp_path / "cache"))
    empty = tmp_path / "empty"
    empty.mkdir()
    argv = ["train", "multi30k", "--out", str(tmp_path / "run"), "--data-dir", str(empty)]
    assert main([*argv, "--device", "cpu"]) == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("aiayn: error: multi30k/"), lines
    assert f"--data-dir {empty}" in lines[0] and "downloading https://" in lines[0]
    assert "set AIAYN_DATA_DIR or pass --data-dir to a folder holding multi30k/" in lines[0]
    assert network_attempts(), "the download was not even tried"
    assert not any((tmp_path / "cache").rglob("*.gz"))

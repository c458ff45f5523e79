"""Where data files come from: a local copy, the user cache, or their public home.

`data_path(dataset, filename)` looks in this order and returns the first hit:
1. the `data_dir` argument (the CLI's `--data-dir`): a folder laid out as `<dir>/<dataset>/<file>`;
2. the folder in the environment variable `AIAYN_DATA_DIR`, laid out the same way;
3. the user cache, `$AIAYN_CACHE_DIR`, else `$XDG_CACHE_HOME/aiayn`, else `~/.cache/aiayn`;
4. a download from the file's public home (table `REMOTE_FILES`) into the cache.
A download goes to a temporary file next to its destination, is checked against the SHA-256 in
the table, and only then renamed into place, so the cache never holds a partial or wrong file.
Local copies (1 and 2) are trusted as they are.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import urllib.error
import urllib.request
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http.client import HTTPException
from pathlib import Path
from typing import BinaryIO

from aiayn.errors import DataNotFoundError

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "AIAYN_DATA_DIR"
CACHE_DIR_ENV = "AIAYN_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 60.0
_CHUNK = 1 << 20


@dataclass(frozen=True)
class RemoteFile:
    """A file's public home: its URL, its SHA-256 and, for a zip archive, its path inside it."""

    url: str
    sha256: str
    member: str | None = None


_MULTI30K = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"
_SST2_ZIP = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"

# (dataset, filename) -> public home. The hashes are those of the upstream files.
REMOTE_FILES: dict[tuple[str, str], RemoteFile] = {
    ("multi30k", "train.de.gz"): RemoteFile(
        f"{_MULTI30K}/train.de.gz",
        "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
    ),
    ("multi30k", "train.en.gz"): RemoteFile(
        f"{_MULTI30K}/train.en.gz",
        "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
    ),
    ("multi30k", "val.de.gz"): RemoteFile(
        f"{_MULTI30K}/val.de.gz",
        "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
    ),
    ("multi30k", "val.en.gz"): RemoteFile(
        f"{_MULTI30K}/val.en.gz",
        "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
    ),
    ("multi30k", "test_2016_flickr.de.gz"): RemoteFile(
        f"{_MULTI30K}/test_2016_flickr.de.gz",
        "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8",
    ),
    ("multi30k", "test_2016_flickr.en.gz"): RemoteFile(
        f"{_MULTI30K}/test_2016_flickr.en.gz",
        "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9",
    ),
    ("tinyshakespeare", "input.txt"): RemoteFile(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    # SST-2 comes as one zip; its members are checked, the zip itself is not.
    ("sst2", "train.tsv"): RemoteFile(
        _SST2_ZIP,
        "c75796b01672b41c38cd4b35f4ff1ade88ca79b7577f3926e01ff69739d85ec9",
        member="SST-2/train.tsv",
    ),
    ("sst2", "dev.tsv"): RemoteFile(
        _SST2_ZIP,
        "f7271f7a919ea884ca8563e13ed03028aa44296d1f738c003af3142b9a2188f8",
        member="SST-2/dev.tsv",
    ),
}


def cache_dir() -> Path:
    """The user cache: `$AIAYN_CACHE_DIR`, else `$XDG_CACHE_HOME/aiayn`, else `~/.cache/aiayn`."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "aiayn"
    return Path.home() / ".cache" / "aiayn"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def data_path(
    dataset: str,
    filename: str,
    *,
    data_dir: str | Path | None = None,
    remote_files: Mapping[tuple[str, str], RemoteFile] | None = None,
) -> Path:
    """Path of `<dataset>/<filename>`, found locally or downloaded into the cache.

    `remote_files` replaces the table of public homes (tests point it at a local server).
    Raises DataNotFoundError, with a one-line message saying what to do, when the file is
    nowhere local and cannot be downloaded or fails its checksum.
    """
    table = REMOTE_FILES if remote_files is None else remote_files
    relative = Path(dataset) / filename
    places: list[str] = []
    for label, root in (("--data-dir", data_dir), (DATA_DIR_ENV, os.environ.get(DATA_DIR_ENV))):
        if root:
            candidate = Path(root).expanduser() / relative
            if candidate.is_file():
                return candidate
            places.append(f"{label} {Path(root).expanduser()}")
    cache = cache_dir()
    cached = cache / relative
    if cached.is_file():
        return cached
    places.append(f"the cache {cache}")

    hint = f"set {DATA_DIR_ENV} or pass --data-dir to a folder holding {dataset}/{filename}"
    looked = ", ".join(places)
    remote = table.get((dataset, filename))
    if remote is None:
        raise DataNotFoundError(
            f"{dataset}/{filename} is not in {looked}, and aiayn knows no public home for it; "
            f"{hint}"
        )
    try:
        _fetch(dataset, filename, remote, table, cache)
    except _DownloadError as error:
        raise DataNotFoundError(
            f"{dataset}/{filename} is not in {looked}, and downloading {remote.url} failed "
            f"({error}); {hint}"
        ) from None
    except OSError as error:  # the cache cannot be written
        raise DataNotFoundError(
            f"cannot save {dataset}/{filename} into the cache {cache} ({error}); set "
            f"{CACHE_DIR_ENV} to a writable folder, or {hint}"
        ) from None
    return cached


class _DownloadError(Exception):
    """The network or the archive failed; data_path turns it into a DataNotFoundError."""


def _fetch(
    dataset: str,
    filename: str,
    remote: RemoteFile,
    table: Mapping[tuple[str, str], RemoteFile],
    cache: Path,
) -> None:
    """Download one file (or its zip, extracting every file of `dataset` the zip holds)."""
    target = cache / dataset / filename
    target.parent.mkdir(parents=True, exist_ok=True)
    logger.info("downloading %s to %s", remote.url, target)
    if remote.member is None:
        with _open_url(remote.url) as response:
            _write_verified(response, target, remote.sha256, source=remote.url)
        return

    with tempfile.TemporaryDirectory(dir=target.parent, prefix=".download-") as tmp:
        archive = Path(tmp) / "archive.zip"
        with _open_url(remote.url) as response, open(archive, "wb") as out:
            _copy(response, out)
        # The other files of the same archive come along, so the zip is fetched once.
        wanted = {
            key: entry
            for key, entry in table.items()
            if entry.url == remote.url and entry.member is not None and key[0] == dataset
        }
        try:
            with zipfile.ZipFile(archive) as zf:
                for (_, name), entry in wanted.items():
                    dest = cache / dataset / name
                    if name != filename and dest.is_file():
                        continue
                    member = _find_member(zf, entry.member)
                    with zf.open(member) as src:
                        _write_verified(src, dest, entry.sha256, source=f"{remote.url}:{member}")
        except (zipfile.BadZipFile, KeyError) as error:
            raise _DownloadError(f"bad archive: {error}") from None


def _open_url(url: str) -> BinaryIO:
    try:
        return urllib.request.urlopen(url, timeout=DOWNLOAD_TIMEOUT_S)
    except urllib.error.HTTPError as error:
        raise _DownloadError(f"HTTP {error.code} {error.reason}") from None
    except urllib.error.URLError as error:
        raise _DownloadError(str(error.reason)) from None
    except (OSError, HTTPException, ValueError) as error:
        raise _DownloadError(str(error) or type(error).__name__) from None


def _copy(src: BinaryIO, dst: BinaryIO, on_chunk: Callable[[bytes], object] | None = None) -> None:
    """Stream `src` into `dst`; a failed read is a download error, a failed write is not."""
    while True:
        try:
            chunk = src.read(_CHUNK)
        except (OSError, HTTPException) as error:
            raise _DownloadError(str(error) or type(error).__name__) from None
        if not chunk:
            return
        dst.write(chunk)
        if on_chunk is not None:
            on_chunk(chunk)


def _find_member(zf: zipfile.ZipFile, member: str) -> str:
    """`member`, or failing that the shallowest member with the same file name."""
    names = zf.namelist()
    if member in names:
        return member
    base = member.rsplit("/", 1)[-1]
    same = sorted((n for n in names if n.rsplit("/", 1)[-1] == base), key=lambda n: n.count("/"))
    if not same:
        raise KeyError(f"no {member} in the archive")
    return same[0]


def _write_verified(src: BinaryIO, target: Path, sha256: str, *, source: str) -> None:
    """Stream `src` into `target` atomically, keeping it only if its SHA-256 is `sha256`."""
    digest = hashlib.sha256()
    fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".part")
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            _copy(src, out, digest.update)
        actual = digest.hexdigest()
        if actual != sha256:
            raise DataNotFoundError(
                f"checksum mismatch for {target.parent.name}/{target.name} downloaded from "
                f"{source}: expected sha256 {sha256}, got {actual}; the file was not kept"
            )
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


__all__ = ["REMOTE_FILES", "RemoteFile", "cache_dir", "data_path", "sha256_of"]

"""Where data files come from: a local copy, the user cache, or their public home.

`data_path(dataset, filename)` looks in this order and returns the first hit:
1. the `data_dir` argument (the CLI's `--data-dir`): a folder laid out as `<dir>/<dataset>/<file>`;
2. the folder in the environment variable `AIAYN_DATA_DIR`, laid out the same way;
3. the user cache, `$AIAYN_CACHE_DIR`, else `$XDG_CACHE_HOME/aiayn`, else `~/.cache/aiayn`;
4. a download from the file's public home (table `REMOTE_FILES`) into the cache.
Downloads go through pooch: it streams to a temporary file next to the destination, checks the
SHA-256 in the table and only then moves the file into place, so the cache never holds a partial
or wrong file. A file that lives inside a zip archive is unpacked with pooch's `Unzip` into a
temporary folder and checked there before it moves into the cache; the archive is not kept.
Local copies (1 and 2) are trusted as they are.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zipfile
from collections.abc import Mapping, Sequence
from pathlib import Path

from aiayn.data.remote_files import REMOTE_FILES, RemoteFile
from aiayn.errors import DataNotFoundError

logger = logging.getLogger(__name__)

DATA_DIR_ENV = "AIAYN_DATA_DIR"
CACHE_DIR_ENV = "AIAYN_CACHE_DIR"
DOWNLOAD_TIMEOUT_S = 60.0


def cache_dir() -> Path:
    """The user cache: `$AIAYN_CACHE_DIR`, else `$XDG_CACHE_HOME/aiayn`, else `~/.cache/aiayn`."""
    if os.environ.get(CACHE_DIR_ENV):
        return Path(os.environ[CACHE_DIR_ENV]).expanduser()
    if os.environ.get("XDG_CACHE_HOME"):
        return Path(os.environ["XDG_CACHE_HOME"]).expanduser() / "aiayn"
    return Path.home() / ".cache" / "aiayn"


def sha256_of(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def find_local(
    dataset: str, filenames: Sequence[str], *, data_dir: str | Path | None = None
) -> Path | None:
    """The first of `<dataset>/<name>` for `name` in `filenames` found in `data_dir`, then
    `$AIAYN_DATA_DIR`, then the cache (every name is tried in one folder before the next);
    None if there is none. Never downloads."""
    for root in (data_dir, os.environ.get(DATA_DIR_ENV), cache_dir()):
        if root:
            for name in filenames:
                candidate = Path(root).expanduser() / dataset / name
                if candidate.is_file():
                    return candidate
    return None


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
    found = find_local(dataset, [filename], data_dir=data_dir)
    if found is not None:
        return found
    table = REMOTE_FILES if remote_files is None else remote_files
    cache = cache_dir()
    places = [
        f"{label} {Path(root).expanduser()}"
        for label, root in (("--data-dir", data_dir), (DATA_DIR_ENV, os.environ.get(DATA_DIR_ENV)))
        if root
    ]
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
    return cache / dataset / filename


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
    folder = cache / dataset
    logger.info("downloading %s to %s", remote.url, folder / filename)
    if remote.member is None:
        _retrieve(remote.url, remote.sha256, folder, filename, label=f"{dataset}/{filename}")
        return

    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".download-") as tmp:
        unpacked = Path(tmp) / "unpacked"
        files = _retrieve(
            remote.url, None, Path(tmp), "archive.zip", unzip_to=unpacked, label=remote.url
        )
        members = {Path(f).relative_to(unpacked).as_posix(): Path(f) for f in files}
        # The other files of the same archive come along, so the zip is fetched once.
        for (name_dataset, name), entry in table.items():
            if entry.url != remote.url or entry.member is None or name_dataset != dataset:
                continue
            dest = folder / name
            if name != filename and dest.is_file():
                continue
            member = _find_member(members, entry.member)
            actual = sha256_of(members[member])
            if actual != entry.sha256:
                raise _mismatch(f"{dataset}/{name}", f"{remote.url}:{member}", entry.sha256, actual)
            os.replace(members[member], dest)


def _retrieve(
    url: str,
    sha256: str | None,
    folder: Path,
    fname: str,
    *,
    label: str,
    unzip_to: Path | None = None,
) -> list[str]:
    """pooch.retrieve into `folder/fname`, checked against `sha256` (None: not checked); with
    `unzip_to`, the archive is unpacked there and the unpacked files are returned."""
    # Imported here: pooch (and requests, and tqdm's notebook bar with it) cost every `aiayn`
    # command its start-up time, and only a download needs them.
    import pooch
    import requests

    processor = pooch.Unzip(extract_dir=str(unzip_to)) if unzip_to is not None else None
    downloader = pooch.HTTPDownloader(progressbar=False, timeout=DOWNLOAD_TIMEOUT_S)
    known_hash = None if sha256 is None else f"sha256:{sha256}"
    try:
        result = pooch.retrieve(
            url, known_hash, fname=fname, path=folder, processor=processor, downloader=downloader
        )
    except requests.RequestException as error:  # before OSError: it is one
        raise _DownloadError(" ".join(str(error).split()) or type(error).__name__) from None
    except zipfile.BadZipFile as error:
        raise _DownloadError(f"bad archive: {error}") from None
    except ValueError as error:  # pooch's checksum mismatch; it has deleted the download
        got = re.search(r"but got ([0-9a-fA-F]{64})", str(error))
        if got is None or sha256 is None:
            raise _DownloadError(str(error)) from None
        raise _mismatch(label, url, sha256, got.group(1)) from None
    return result if isinstance(result, list) else [result]


def _mismatch(label: str, source: str, expected: str, actual: str) -> DataNotFoundError:
    return DataNotFoundError(
        f"checksum mismatch for {label} downloaded from {source}: expected sha256 {expected}, "
        f"got {actual}; the file was not kept"
    )


def _find_member(members: Mapping[str, Path], member: str) -> str:
    """`member`, or failing that the shallowest member with the same file name."""
    if member in members:
        return member
    base = member.rsplit("/", 1)[-1]
    same = sorted((n for n in members if n.rsplit("/", 1)[-1] == base), key=lambda n: n.count("/"))
    if not same:
        raise _DownloadError(f"bad archive: no {member} in it")
    return same[0]


__all__ = ["REMOTE_FILES", "RemoteFile", "cache_dir", "data_path", "find_local", "sha256_of"]

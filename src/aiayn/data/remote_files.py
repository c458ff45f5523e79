"""The public homes of the data sets aiayn knows by name: URL and SHA-256 of every file.

`aiayn.data.download.data_path` downloads a file from here when no local copy or cached copy
exists, and keeps it only if its SHA-256 matches.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class RemoteFile:
    """A file's public home: its URL, its SHA-256 and, for a zip archive, its path inside it."""

    url: str
    sha256: str
    member: str | None = None


_MULTI30K = "https://raw.githubusercontent.com/multi30k/dataset/master/data/task1/raw"
_SST2_ZIP = "https://dl.fbaipublicfiles.com/glue/data/SST-2.zip"
_DIALOGSUM = "https://raw.githubusercontent.com/cylnlp/dialogsum/main/DialogSum_Data"
# The original CNN and Daily Mail story archives, as re-hosted on the Hugging Face hub at a fixed
# revision, and the split lists of See et al. (2017); see aiayn.data.cnn_dailymail.
_CNNDM_STORIES = (
    "https://huggingface.co/datasets/abisee/cnn_dailymail/resolve/"
    "11343c3752184397d56efc19a8a7cceb68089318/data"
)
_CNNDM_LISTS = "https://raw.githubusercontent.com/abisee/cnn-dailymail/master/url_lists"


def _files(dataset: str, home: str, hashes: dict[str, str]) -> dict[tuple[str, str], RemoteFile]:
    """The entries of files that each live at `home/<name>`."""
    return {(dataset, name): RemoteFile(f"{home}/{name}", sha) for name, sha in hashes.items()}


# (dataset, filename) -> public home. The hashes are those of the upstream files.
REMOTE_FILES: dict[tuple[str, str], RemoteFile] = {
    **_files(
        "multi30k",
        _MULTI30K,
        {
            "train.de.gz": "726e39b2fa9eb9ffb6dc763fb35a179f80fae06ffc5d28b6ace5faa883de28a6",
            "train.en.gz": "d79cfa999dd4c51d2cb42499b6796d5a882c3a8a961923c25a898c90f8bbd56f",
            "val.de.gz": "f0cba2f995189cf5770f29a8a9a537a3ad3f51657ad873405082ff6863a5e75a",
            "val.en.gz": "14f7d25ddd868909a9213e361768460edcacdd6ab9d1e77b92560dc10c10dc28",
            "test_2016_flickr.de.gz": (
                "9204244e408ccb38d2a55cfcd344df15005fc42a07a6e55ca6c52b6ababb8cc8"
            ),
            "test_2016_flickr.en.gz": (
                "611d361c6334bc7246101d48097c13cf5c4413c5befc793cc629934359d532d9"
            ),
        },
    ),
    ("tinyshakespeare", "input.txt"): RemoteFile(
        "https://raw.githubusercontent.com/karpathy/char-rnn/master/data/tinyshakespeare/input.txt",
        "86c4e6aa9db7c042ec79f339dcb96d42b0075e16b8fc2e86bf0ca57e2dc565ed",
    ),
    # SST-2 comes as one zip; its members are checked, the zip itself is not.
    **{
        ("sst2", name): RemoteFile(_SST2_ZIP, sha, member=f"SST-2/{name}")
        for name, sha in {
            "train.tsv": "c75796b01672b41c38cd4b35f4ff1ade88ca79b7577f3926e01ff69739d85ec9",
            "dev.tsv": "f7271f7a919ea884ca8563e13ed03028aa44296d1f738c003af3142b9a2188f8",
        }.items()
    },
    # The hashes of the local copies, decompressed (12,069,748 and 471,830 bytes). The test split
    # has no entry: its hash is not known here, so it is read from a local copy only.
    **_files(
        "dialogsum",
        _DIALOGSUM,
        {
            "dialogsum.train.jsonl": (
                "d223076c574192da82e8e56847b255e627196e2e7def9ed2b193cfb8e4940cba"
            ),
            "dialogsum.dev.jsonl": (
                "436721e0a3571eef7072964f80e042fb151d8c6178db1a688ce8f803bbf0a13f"
            ),
        },
    ),
    # Hashes as recorded by the Hugging Face `datasets` loader (dataset_infos.json) for these
    # files; ParlAI pins the same two archive hashes (158,577,824 and 375,893,739 bytes).
    **_files(
        "cnn_dailymail",
        _CNNDM_STORIES,
        {
            "cnn_stories.tgz": "e8fbc0027e54e0a916abd9c969eb35f708ed1467d7ef4e3b17a56739d65cb200",
            "dailymail_stories.tgz": (
                "ad69010002210b7c406718248ee66e65868b9f6820f163aa966369878d14147e"
            ),
        },
    ),
    **_files(
        "cnn_dailymail",
        _CNNDM_LISTS,
        {
            "all_train.txt": "a5cee49f3a6c862c26ce29308236d2a99625ab6c86a43be22d5206b2790d8029",
            "all_val.txt": "81887e982b045083409c6ee838aede8ff4b97291605bcfb21bffc456a16991db",
            "all_test.txt": "c4f5efb5ec2126430a5c156efbd13d0e9c4cb490169e552c38b4a51981a009bd",
        },
    ),
}


__all__ = ["REMOTE_FILES", "RemoteFile"]

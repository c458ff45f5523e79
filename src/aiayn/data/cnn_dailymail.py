"""CNN/DailyMail (Hermann et al., 2015; non-anonymised version of See et al., 2017): news
articles and their bullet-point highlights, 287,113 / 13,368 / 11,490 train / validation / test.

Where the data comes from (all checked against the SHA-256 in `REMOTE_FILES`):
- the original story archives of Hermann et al., `cnn_stories.tgz` (92,579 stories) and
  `dailymail_stories.tgz` (219,506), first published at cs.nyu.edu/~kcho/DMQA and re-hosted
  unchanged on the Hugging Face hub (dataset `abisee/cnn_dailymail`, folder `data/`, pinned to
  revision 11343c37); the hashes are those the Hugging Face `datasets` loader recorded for the
  archives, and ParlAI pins the same;
- the split lists of See et al., github.com/abisee/cnn-dailymail, `url_lists/all_{train,val,
  test}.txt`: one article URL a line; a story's file name is the SHA-1 of its URL.

A `.story` file is the article's paragraphs, then each highlight after a line `@highlight`. It
becomes an (article, highlights) pair the way version 3.0.0 of the Hugging Face dataset does:
every line is stripped; a non-empty line that does not end a sentence (., !, ?, quote marks,
closing parenthesis) gets " ." appended; the article is its lines joined by spaces, the
highlights are joined by newlines (one sentence a line, ready for ROUGE-Lsum); text keeps its
case; a story with an empty article or no highlights (114 in all) is left out.
"""

from __future__ import annotations

import hashlib
import logging
import tarfile
from pathlib import Path, PurePosixPath

from aiayn.data.download import data_path
from aiayn.data.files import read_lines
from aiayn.errors import AiaynError

logger = logging.getLogger(__name__)

CNN_DAILYMAIL_SPLITS: dict[str, str] = {
    "train": "all_train.txt",
    "validation": "all_val.txt",
    "val": "all_val.txt",
    "dev": "all_val.txt",
    "test": "all_test.txt",
}
STORY_ARCHIVES: tuple[str, ...] = ("cnn_stories.tgz", "dailymail_stories.tgz")
_SENTENCE_ENDS = frozenset(".!?'`\")\u2019\u201d")  # \u2019 and \u201d: closing quote marks


def story_id(url: str) -> str:
    """A story's file name without `.story`: the hex SHA-1 of its URL's UTF-8 bytes."""
    return hashlib.sha1(url.encode("utf-8")).hexdigest()


def parse_story(text: str) -> tuple[str, str]:
    """(article, highlights) of one `.story` file's text; either may be empty."""
    article: list[str] = []
    highlights: list[str] = []
    in_highlight = False
    for raw in text.split("\n"):
        line = raw.strip()
        if not line:
            continue
        if line.startswith("@highlight"):
            in_highlight = True
            continue
        if "@highlight" not in line and line[-1] not in _SENTENCE_ENDS:
            line += " ."
        (highlights if in_highlight else article).append(line)
    return " ".join(article), "\n".join(highlights)


def read_stories(archives: list[str | Path], ids: set[str]) -> list[tuple[str, str]]:
    """(article, highlights) of every story in `archives` (.tgz) whose id is in `ids`, in
    archive order; stories with an empty article or no highlights are left out (and counted)."""
    pairs: list[tuple[str, str]] = []
    left_out = 0
    for archive in archives:
        try:
            with tarfile.open(archive, "r:gz") as tar:
                for member in tar:
                    name = PurePosixPath(member.name)
                    if not member.isfile() or name.suffix != ".story" or name.stem not in ids:
                        continue
                    data = tar.extractfile(member)
                    if data is None:
                        continue
                    try:
                        text = data.read().decode("utf-8")
                    except UnicodeDecodeError as error:
                        raise AiaynError(f"{archive}:{member.name}: not UTF-8 ({error})") from None
                    article, highlights = parse_story(text)
                    if article and highlights:
                        pairs.append((article, highlights))
                    else:
                        left_out += 1
        except (tarfile.TarError, OSError, EOFError) as error:
            raise AiaynError(f"cannot read the story archive {archive}: {error}") from None
    if left_out:
        logger.info("left out %d stories with an empty article or no highlights", left_out)
    return pairs


def cnn_dailymail(split: str, data_dir: str | Path | None = None) -> list[tuple[str, str]]:
    """CNN/DailyMail split "train", "validation" (aliases "val", "dev") or "test" as
    (article, highlights) pairs, CNN stories first, then Daily Mail (see `data_path` for where
    the files are looked for; a download is about 585 MB)."""
    if split not in CNN_DAILYMAIL_SPLITS:
        raise ValueError(f"split must be one of {tuple(CNN_DAILYMAIL_SPLITS)}, got {split!r}")
    urls = read_lines(data_path("cnn_dailymail", CNN_DAILYMAIL_SPLITS[split], data_dir=data_dir))
    ids = {story_id(url.strip()) for url in urls if url.strip()}
    archives: list[str | Path] = [
        data_path("cnn_dailymail", name, data_dir=data_dir) for name in STORY_ARCHIVES
    ]
    pairs = read_stories(archives, ids)
    if not pairs:
        raise AiaynError(
            f"no story of the CNN/DailyMail {split} split is in {', '.join(map(str, archives))}"
        )
    return pairs

"""Dataset cache directory and downloads (standard library ``urllib`` only).

Public datasets live under ``$JTSGEN_DATA`` (default ``~/.cache/jtsgen``), one
subfolder per dataset (``nab/``, ``kpi/``). Downloads are written to a temporary
file and renamed into place, so an interrupted download never leaves a partial
file that looks complete.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import urllib.request
import zipfile
from pathlib import Path

DATA_ENV = "JTSGEN_DATA"
DEFAULT_DATA_HOME = "~/.cache/jtsgen"


def data_home() -> Path:
    """The root of the dataset cache: ``$JTSGEN_DATA`` or ``~/.cache/jtsgen``."""
    return Path(os.environ.get(DATA_ENV) or DEFAULT_DATA_HOME).expanduser()


def dataset_dir(name: str, cache_dir: str | Path | None = None) -> Path:
    """The cache folder of one dataset: ``cache_dir`` if given, else ``data_home()/name``."""
    return Path(cache_dir).expanduser() if cache_dir is not None else data_home() / name


def fetch(url: str, dest: Path, *, timeout: float = 60.0) -> Path:
    """Downloads ``url`` to ``dest`` (atomically) unless ``dest`` already exists.

    Raises:
      OSError: (including ``urllib.error.URLError``) when the download fails; the
        caller turns it into an InputError that says where to put the file.
    """
    dest = Path(dest)
    if dest.is_file():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as resp:
            shutil.copyfileobj(resp, out)
        os.replace(tmp_name, dest)
    finally:
        if os.path.exists(tmp_name):
            os.remove(tmp_name)
    return dest


def unzip_single(archive: Path, dest: Path) -> Path:
    """Extracts the one data file in ``archive`` (a .zip) to ``dest``; returns ``dest``.

    Raises:
      OSError: if the archive is unreadable or does not hold exactly one file.
    """
    try:
        with zipfile.ZipFile(archive) as zf:
            members = [m for m in zf.infolist() if not m.is_dir() and "__MACOSX" not in m.filename]
            if len(members) != 1:
                raise OSError(f"{archive} holds {len(members)} files, expected exactly one")
            fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=dest.name, suffix=".part")
            try:
                with os.fdopen(fd, "wb") as out, zf.open(members[0]) as src:
                    shutil.copyfileobj(src, out)
                os.replace(tmp_name, dest)
            finally:
                if os.path.exists(tmp_name):
                    os.remove(tmp_name)
    except zipfile.BadZipFile as err:
        raise OSError(f"{archive} is not a valid zip archive ({err})") from None
    return dest

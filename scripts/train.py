"""Trains the Rasa model when `models/` holds none for the current training data.

A model is named after a fingerprint of everything that shapes it (pipeline, domain,
stories, rules, NLU data and the Rasa version), so `make run` retrains exactly when one
of those changed and never otherwise.

    python scripts/train.py            # train if needed, print the model's path
    python scripts/train.py --check    # exit 1 when a training would be needed
"""

import argparse
import hashlib
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RASA_BIN = ROOT / ".venv-rasa" / "bin" / "rasa"
MODELS_DIR = ROOT / "models"
RASA_VERSION = "3.6.21"
TRAINING_INPUTS = [ROOT / "bot" / "config.yml", ROOT / "bot" / "tasks.yml"]
DOMAIN_DIR = ROOT / "bot" / "domain"
DATA_DIRS = [ROOT / "bot" / "data", ROOT / "nlu_data"]


def training_files() -> list[Path]:
    files = list(TRAINING_INPUTS)
    for directory in [DOMAIN_DIR, *DATA_DIRS]:
        files += sorted(p for p in directory.rglob("*") if p.suffix in {".yml", ".yaml"})
    # The custom NLU components' code shapes the model as much as the data does.
    files += sorted((ROOT / "bot" / "components").glob("*.py"))
    return files


def fingerprint() -> str:
    digest = hashlib.sha256(RASA_VERSION.encode())
    for path in training_files():
        digest.update(str(path.relative_to(ROOT)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def model_path() -> Path:
    return MODELS_DIR / f"model-{fingerprint()}.tar.gz"


def train(out: Path) -> None:
    data = [str(p) for p in DATA_DIRS]
    command = [
        str(RASA_BIN),
        "train",
        "--config",
        str(ROOT / "bot" / "config.yml"),
        "--domain",
        str(DOMAIN_DIR),
        "--data",
        *data,
        "--out",
        str(out.parent),
        "--fixed-model-name",
        out.name.removesuffix(".tar.gz"),
    ]
    env = {**os.environ, "ACTION_ENDPOINT_URL": "http://127.0.0.1:5055/webhook"}
    print(f"[train] training {out.name} (a few minutes on two cores)", file=sys.stderr)
    subprocess.run(command, cwd=ROOT, env=env, check=True)  # noqa: S603
    for stale in MODELS_DIR.glob("model-*.tar.gz"):
        if stale != out:
            stale.unlink()


def ensure_trained() -> Path:
    """Path of the model for the current data, training it first if it is missing."""
    path = model_path()
    if not path.exists():
        train(path)
    return path


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether stale")
    args = parser.parse_args()
    if args.check:
        sys.exit(0 if model_path().exists() else 1)
    print(ensure_trained())

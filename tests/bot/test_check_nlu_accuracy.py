"""scripts/check_nlu_accuracy.py: `make test` fails when the held-out accuracy is more
than half a point below the recorded figure, and passes otherwise."""

import json
from pathlib import Path

import pytest

from scripts import check_nlu_accuracy


def test_the_recorded_figure_is_a_fraction() -> None:
    recorded = json.loads(check_nlu_accuracy.RECORDED.read_text())
    assert 0.9 < recorded["banking77_heldout_accuracy"] < 1.0


@pytest.mark.parametrize(
    ("measured", "fails"), [(0.9500, False), (0.9460, False), (0.9449, True), (0.90, True)]
)
def test_the_check_fails_only_past_half_a_point(
    measured: float, fails: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    recorded = tmp_path / "recorded.json"
    recorded.write_text(json.dumps({"banking77_heldout_accuracy": 0.95}))
    monkeypatch.setattr(check_nlu_accuracy, "RECORDED", recorded)
    monkeypatch.setattr(check_nlu_accuracy, "ROOT", tmp_path)
    monkeypatch.setattr(check_nlu_accuracy, "heldout_accuracy", lambda: measured)
    if fails:
        with pytest.raises(SystemExit, match=r"below the recorded 0\.9500"):
            check_nlu_accuracy.main()
    else:
        check_nlu_accuracy.main()

"""The decoder comparison runs end to end (smoke) and rejects bad choices."""

import json

import pytest

from experiments import cgats_decoders
from experiments.common import main


def test_smoke_run_measures_every_decoder_and_temperature(tmp_path):
    results = main("cgats_decoders", cgats_decoders.get_config, cgats_decoders.run, argv=[
        "--profile", "smoke", "--workdir", str(tmp_path), "--config.detectors=case2",
        "--config.decoders=anomaly_latent,paper", "--config.temperatures=0"])
    assert [(r["decoder"], r["temperature"]) for r in results["rows"]] == [
        ("anomaly_latent", 0.0), ("paper", 0.0)]
    for row in results["rows"]:
        assert 0.0 <= row["case2 T(R+S)TR"] <= 1.0 and 0.0 <= row["case2 TSTR"] <= 1.0
        # the label-gated and last-layer heads leave unlabelled steps unchanged
        assert row["on_label_share"] == pytest.approx(1.0)
    assert json.loads((tmp_path / "results.json").read_text())["trtr"]["case2"] > 0
    assert "real training data" in (tmp_path / "decoders.md").read_text()


@pytest.mark.parametrize("arg", ["--config.decoders=transformer", "--config.temperatures=-2"])
def test_bad_choices_stop_with_one_line(tmp_path, arg):
    with pytest.raises(SystemExit) as exc:
        main("cgats_decoders", cgats_decoders.get_config, cgats_decoders.run,
             argv=["--profile", "smoke", "--workdir", str(tmp_path), arg])
    assert exc.value.code == 2

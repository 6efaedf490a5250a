"""The C-GATS Sines experiment runs end to end (smoke profile) and writes its outputs."""

import dataclasses
import json

from experiments import cgats_sines


def test_smoke_run_writes_figures_tables_and_resumes(tmp_path):
    cfg = dataclasses.replace(cgats_sines.get_config("smoke"), baselines=False)
    results = cgats_sines.run(cfg, tmp_path)
    for name in ("config.json", "results.json", "losses.json", "faithfulness.csv",
                 "faithfulness.md", "fig1_label_control.png", "fig2_samples.png",
                 "fig3_tsne.png"):
        assert (tmp_path / name).stat().st_size > 0, name
    table = results["faithfulness"]
    assert set(table) == {"C-GATS", "CVAE end-to-end (Table 10)",
                          "C-GATS, condition at first layer (Table 11)"}
    for row in table.values():
        assert 0.0 <= row["on_label_share"] <= 1.0
    assert json.loads((tmp_path / "config.json").read_text())["model"]["seq_len"] == 48
    assert (tmp_path / "checkpoints" / "cgats" / "stage2").is_dir()
    again = cgats_sines.run(cfg, tmp_path)  # resumes from the checkpoints: same models
    assert again["faithfulness"] == results["faithfulness"]

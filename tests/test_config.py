"""Configs: overrides by dotted key, clear errors, JSON round-trip."""

from __future__ import annotations

import json

import pytest

from experiments import lstm_vae as exp
from jtsgen.config import apply_overrides, from_dict, save_config, to_dict
from jtsgen.errors import InputError


def test_overrides_set_nested_fields_with_their_types():
    cfg = apply_overrides(exp.get_config("smoke"),
                          ["--config.model.latent=8", "--config.num_steps=7",
                           "--config.model.kl_weight=0.5"])
    assert cfg.model.latent == 8 and cfg.num_steps == 7 and cfg.model.kl_weight == 0.5


@pytest.mark.parametrize("arg, message", [
    ("--config.nope=1", "unknown config key"),
    ("--config.model.nope=1", "unknown config key"),
    ("--config.num_steps=abc", "not a valid int"),
    ("--config.model.kl_weight=x", "not a valid float"),
    ("--config.model=3", "nested config"),
    ("--confg.seed=1", "expected an override"),
])
def test_bad_overrides_name_the_argument(arg, message):
    with pytest.raises(InputError, match=message) as err:
        apply_overrides(exp.get_config("smoke"), [arg])
    assert arg.split("=")[0] in str(err.value)


def test_config_round_trips_through_json(tmp_path):
    cfg = exp.get_config("quick")
    save_config(cfg, tmp_path / "config.json")
    loaded = from_dict(exp.Config, json.loads((tmp_path / "config.json").read_text()))
    assert loaded == cfg and to_dict(loaded) == to_dict(cfg)


def test_unknown_profile_is_rejected(capsys):
    with pytest.raises(SystemExit):
        exp.main("lstm_vae", exp.get_config, exp.run, ["--profile", "huge"])
    assert "--profile" in capsys.readouterr().err


@pytest.mark.parametrize("name, flag", [
    ("cgats_sines", "--config.model.seq_len=-5"),
    ("frameworks_sines", "--config.model.stage1_steps=0"),
    ("detectors_sines", "--config.robusttad.decomposition=x13"),
])
def test_a_bad_config_value_names_its_flag_and_leaves_no_work_directory(tmp_path, capsys,
                                                                         name, flag):
    import importlib

    from experiments.common import main

    module = importlib.import_module(f"experiments.{name}")
    workdir = tmp_path / "never"
    with pytest.raises(SystemExit) as stop:
        main(name, module.get_config, module.run,
             argv=["--profile", "smoke", "--workdir", str(workdir), flag])
    assert stop.value.code == 2
    assert capsys.readouterr().err.startswith(f"error: {flag}:")
    assert not workdir.exists()

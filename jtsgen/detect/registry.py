"""Every detector behind one call, found by identifier.

``fit_detector(name, key, x_btc, y_bt, settings)`` fits the detector ``name`` (one of
:data:`DETECTORS`) on training windows ``x_btc [N, T, C]`` with labels ``y_bt [N, T]``
(threshold included) and returns its fitted object (``score``, ``predict``,
``threshold``; see :mod:`jtsgen.detect.base`). ``settings`` is any object with the
per-family configs as attributes ``baselines``, ``sr_cnn``, ``vae``, ``robusttad``,
``ncad`` — :class:`DetectorSettings`, or an experiment's config that carries them
(so ``--config.ncad.context=…`` reaches the detector).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import jax
import numpy as np

from jtsgen.detect import baselines, ncad, robusttad, sr_cnn, vae_detector
from jtsgen.errors import InputError

DETECTORS = ("one_liner_a", "one_liner_b", "case1", "case2", "case3",
             "sr_cnn", "vae", "robusttad", "ncad")
LABELS = {"one_liner_a": "One-liner A", "one_liner_b": "One-liner B", "case1": "Case 1",
          "case2": "Case 2", "case3": "Case 3", "sr_cnn": "SR-CNN", "vae": "VAE (seed 001)",
          "robusttad": "RobustTAD", "ncad": "NCAD"}
_FITS = {"sr_cnn": sr_cnn.fit, "vae": vae_detector.fit, "robusttad": robusttad.fit,
         "ncad": ncad.fit}


@dataclasses.dataclass(frozen=True)
class DetectorSettings:
    """Each detector family's config (the ``quick`` profile's by default)."""

    baselines: baselines.Config = baselines.Config()
    sr_cnn: sr_cnn.Config = sr_cnn.Config(num_steps=400)
    vae: vae_detector.Config = vae_detector.Config(num_steps=400)
    robusttad: robusttad.Config = robusttad.Config()
    ncad: ncad.Config = ncad.Config()


def settings_for(profile: str) -> DetectorSettings:
    """``smoke``: tiny networks, 20 steps (tests, seconds); ``quick``: the defaults
    (a 2-core CPU, minutes); ``paper``: 5,000 training steps (an accelerator)."""
    if profile == "smoke":
        return DetectorSettings(
            baselines=baselines.Config(k_grid=(5, 10), c_grid=(0.0, 1.0, 2.0), lstm_hidden=8),
            sr_cnn=sr_cnn.Config(features=(8, 8), batch_size=16, num_steps=20,
                                 steps_per_call=10, min_epochs=0.0),
            vae=vae_detector.Config(window=16, hidden=(16,), latent=4, batch_size=16,
                                    num_steps=20, steps_per_call=10),
            robusttad=robusttad.Config(base=4, depth=2, kernel_size=3, batch_size=16,
                                       num_steps=20, steps_per_call=10),
            ncad=ncad.Config(context=16, features=8, dilations=(1, 2), embedding=4,
                             batch_size=16, num_steps=20, steps_per_call=10),
        )
    if profile == "paper":
        return DetectorSettings(
            sr_cnn=sr_cnn.Config(num_steps=5000, steps_per_call=100),
            vae=vae_detector.Config(num_steps=5000, steps_per_call=100),
            robusttad=robusttad.Config(num_steps=5000, steps_per_call=100),
            ncad=ncad.Config(num_steps=5000, steps_per_call=100),
        )
    return DetectorSettings()


def settings_dict(settings: Any) -> dict[str, Any]:
    """The five per-family configs of ``settings`` as keyword arguments."""
    return {f.name: getattr(settings, f.name) for f in dataclasses.fields(DetectorSettings)}


def with_steps_scaled(settings: Any, name: str, factor: float) -> Any:
    """``settings`` with detector ``name``'s training steps times ``factor``, rounded up
    to whole fused calls (unchanged for the detectors that do not train by steps)."""
    if name not in _FITS or factor == 1:
        return settings
    cfg = getattr(settings, name)
    calls = math.ceil(cfg.num_steps * factor / cfg.steps_per_call)
    return dataclasses.replace(settings, **{name: dataclasses.replace(
        cfg, num_steps=max(calls, 1) * cfg.steps_per_call)})


def with_class_weight_of(settings: Any, name: str, y_bt) -> Any:
    """``settings`` with detector ``name``'s label-prevalence settings resolved on the
    labels ``y_bt [N, T]`` (RobustTAD's ``pos_weight``, when it is ``None``: the inverse
    positive rate of ``y_bt``), so that a fit on other data keeps this class weight;
    unchanged for the detectors without one."""
    if name != "robusttad" or settings.robusttad.pos_weight is not None:
        return settings
    weight = robusttad.positive_weight(np.asarray(y_bt, np.float32), settings.robusttad)
    return dataclasses.replace(settings, robusttad=dataclasses.replace(
        settings.robusttad, pos_weight=weight))


def fit_detector(name: str, key: jax.Array, x_btc, y_bt, settings: Any):
    """Fits the detector called ``name`` on training windows; returns the fitted one."""
    if name in baselines.KINDS:
        return baselines.fit(key, x_btc, y_bt,
                             dataclasses.replace(settings.baselines, kind=name))
    if name not in _FITS:
        raise InputError("detector", f"unknown {name!r}; choose from {list(DETECTORS)}")
    return _FITS[name](key, x_btc, y_bt, getattr(settings, name))


def threshold_rule(name: str, settings: Any) -> str:
    """Where the detector's threshold comes from, in words."""
    if name == "vae":
        return f"{settings.vae.percentile:g}th pct of train scores"
    return "best F1 on train"

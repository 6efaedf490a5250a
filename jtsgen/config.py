"""Configs as frozen dataclasses, command-line overrides and JSON round-trip.

Every model and experiment is configured by a frozen dataclass whose fields are
static Python values (ints, floats, strings, tuples, nested configs). Configs are
hashable, so a jitted function may close over one, and shapes derived from them
are static.

Overrides use dotted paths: ``--config.model.latent=8`` sets ``cfg.model.latent``.
Unknown keys and values that do not parse as the field's type raise
:class:`jtsgen.errors.InputError` naming the argument.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tempfile
import types
import typing
from pathlib import Path
from typing import Any, TypeVar

from jtsgen.errors import InputError

C = TypeVar("C")

PROFILES = ("smoke", "quick", "paper")


def check_profile(profile: str) -> str:
    """Returns ``profile`` if it is one of :data:`PROFILES`, else raises InputError."""
    if profile not in PROFILES:
        raise InputError("--profile", f"unknown profile {profile!r}; choose one of {PROFILES}")
    return profile


def _field_types(cfg: Any) -> dict[str, Any]:
    return typing.get_type_hints(type(cfg))


def _parse_scalar(tp: Any, text: str, arg: str) -> Any:
    origin = typing.get_origin(tp)
    if origin is typing.Literal:
        choices = typing.get_args(tp)
        for choice in choices:
            if str(choice) == text:
                return choice
        raise InputError(arg, f"value {text!r} is not one of {list(choices)}")
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if text.lower() in ("none", "null") and len(options) < len(typing.get_args(tp)):
            return None
        errors = []
        for option in options:
            try:
                return _parse_scalar(option, text, arg)
            except InputError as e:
                errors.append(e.problem)
        raise InputError(arg, "; ".join(errors))
    if origin is tuple:
        item_types = typing.get_args(tp)
        item_type = item_types[0] if item_types else str
        parts = [p.strip() for p in text.strip("()[] ").split(",") if p.strip()]
        return tuple(_parse_scalar(item_type, p, arg) for p in parts)
    if tp is bool:
        low = text.lower()
        if low in ("1", "true", "yes", "on"):
            return True
        if low in ("0", "false", "no", "off"):
            return False
        raise InputError(arg, f"value {text!r} is not a boolean (use true/false)")
    if tp in (int, float):
        try:
            value = float(text) if tp is float else int(text)
        except ValueError:
            raise InputError(arg, f"value {text!r} is not a valid {tp.__name__}") from None
        return value
    if tp is str:
        return text
    raise InputError(arg, f"cannot set a field of type {tp} from the command line")


def valid_keys(cfg: Any, prefix: str = "") -> list[str]:
    """All dotted keys that can be overridden in ``cfg``."""
    keys = []
    for f in dataclasses.fields(cfg):
        value = getattr(cfg, f.name)
        if dataclasses.is_dataclass(value):
            keys.extend(valid_keys(value, f"{prefix}{f.name}."))
        else:
            keys.append(f"{prefix}{f.name}")
    return keys


def override(cfg: C, dotted_key: str, text: str, *, arg: str | None = None) -> C:
    """Returns a copy of ``cfg`` with the field at ``dotted_key`` parsed from ``text``."""
    arg = arg or f"--config.{dotted_key}"
    head, _, rest = dotted_key.partition(".")
    names = {f.name for f in dataclasses.fields(cfg)}
    if head not in names:
        raise InputError(arg, f"unknown config key; valid keys: {', '.join(valid_keys(cfg))}")
    current = getattr(cfg, head)
    if rest:
        if not dataclasses.is_dataclass(current):
            raise InputError(arg, f"{head!r} is not a nested config")
        return dataclasses.replace(cfg, **{head: override(current, rest, text, arg=arg)})
    if dataclasses.is_dataclass(current):
        raise InputError(arg, f"{head!r} is a nested config; set one of its fields instead")
    value = _parse_scalar(_field_types(cfg)[head], text, arg)
    try:
        return dataclasses.replace(cfg, **{head: value})
    except InputError as e:  # a config naming its own field: name the flag instead
        raise InputError(arg, e.problem) from None
    except (ValueError, TypeError) as e:  # __post_init__ validation
        raise InputError(arg, str(e)) from None


def apply_overrides(cfg: C, args: list[str]) -> C:
    """Applies ``--config.key=value`` arguments in order. Other arguments are an error."""
    for a in args:
        if not a.startswith("--config.") or "=" not in a:
            raise InputError(a, "expected an override of the form --config.key=value")
        key, _, text = a[len("--config."):].partition("=")
        cfg = override(cfg, key, text, arg=a)
    return cfg


def to_dict(cfg: Any) -> dict[str, Any]:
    """Nested plain-dict form of a config (tuples become lists in JSON)."""
    return dataclasses.asdict(cfg)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Writes ``text`` to ``path`` via a temp file and rename, so no half file is left."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; give the usual permissions
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json(path: str | os.PathLike, obj: Any) -> Path:
    """Atomically writes ``obj`` as indented JSON (numpy scalars/arrays converted)."""

    def default(o: Any) -> Any:
        if hasattr(o, "tolist"):
            return o.tolist()
        if dataclasses.is_dataclass(o):
            return dataclasses.asdict(o)
        raise TypeError(f"not JSON serialisable: {type(o)}")

    return atomic_write_text(path, json.dumps(obj, indent=2, default=default) + "\n")


def save_config(cfg: Any, path: str | os.PathLike) -> Path:
    """Writes the resolved config as JSON."""
    return write_json(path, to_dict(cfg))


def from_dict(cls: type[C], data: dict[str, Any]) -> C:
    """Rebuilds a config of type ``cls`` from :func:`to_dict` output."""
    hints = typing.get_type_hints(cls)
    kwargs = {}
    for f in dataclasses.fields(cls):
        if f.name not in data:
            continue
        value, tp = data[f.name], hints[f.name]
        if dataclasses.is_dataclass(tp):
            value = from_dict(tp, value)
        elif isinstance(value, list):
            value = tuple(value)
        kwargs[f.name] = value
    return cls(**kwargs)


def check_counts(config: Any, names: tuple[str, ...], prefix: str = "--config.") -> None:
    """Raises :class:`InputError` naming ``prefix + name`` for the first field of
    ``names`` on ``config`` below 1 (step counts, sizes)."""
    for name in names:
        if getattr(config, name) < 1:
            raise InputError(f"{prefix}{name}", f"must be >= 1, got {getattr(config, name)}")


def check_batch_size(config: Any, prefix: str = "--config.") -> None:
    """Raises :class:`InputError` naming ``prefix + "batch_size"`` unless
    ``1 <= config.batch_size <= config.n_train`` (a batch drawn from the training set)."""
    if not 1 <= config.batch_size <= config.n_train:
        raise InputError(f"{prefix}batch_size", f"must be in [1, n_train={config.n_train}], "
                                                f"got {config.batch_size}")


def check_choices(arg: str, given: tuple, allowed: tuple, *, allow_empty: bool = False) -> None:
    """InputError naming ``arg`` when ``given`` has a value outside ``allowed`` (or is
    empty, unless ``allow_empty``)."""
    unknown = [v for v in given if v not in allowed]
    if unknown or (not given and not allow_empty):
        raise InputError(arg, f"unknown or empty {unknown}; choose from {list(allowed)}")


def write_outputs(workdir: Path, json_files: dict[str, Any], text_files: dict[str, str],
                  show: str) -> None:
    """Writes each ``{name: object}`` as JSON and each ``{name: text}`` into ``workdir``
    (every file atomically), then prints ``show`` and where the results are."""
    for name, obj in json_files.items():
        write_json(workdir / name, obj)
    for name, text in text_files.items():
        atomic_write_text(workdir / name, text)
    print(show)
    print(f"results in {workdir}")


def with_added_settings(saved: dict, like: dict, added: dict) -> dict:
    """``saved`` settings with the ``added`` ones they lack filled in, at any depth, for
    the keys that the current settings ``like`` have. ``added`` maps a setting added
    after runs were saved to the value those runs ran under (nested: per section)."""
    out = dict(saved)
    for key, value in added.items():
        if key not in like:
            continue
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = with_added_settings(out[key], like[key], value)
        elif key not in out:
            out[key] = value
    return out


def saved_result(path: Path, settings: dict, added: dict | None = None) -> Any | None:
    """The ``result`` of a run saved at ``path`` as ``{"settings", "result"}`` (by
    :func:`write_json`) when its settings, ``added`` ones filled in
    (:func:`with_added_settings`), equal ``settings``; else ``None`` (no file, or a run
    of other settings, which the caller runs again)."""
    path = Path(path)
    saved = json.loads(path.read_text()) if path.exists() else {}
    if "settings" not in saved:
        return None
    if with_added_settings(saved["settings"], settings, added or {}) != settings:
        return None
    return saved["result"]

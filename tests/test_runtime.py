"""jtsgen.runtime: the huge-page malloc tunable and the one-time re-exec of CLI entry points."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from jtsgen import runtime


def test_tuned_environment_appends_the_tunable_once():
    env = runtime.tuned_environment({"PATH": "/bin"})
    assert env == {"PATH": "/bin", "GLIBC_TUNABLES": runtime.HUGEPAGE_TUNABLE}
    assert runtime.tuned_environment(env) is None  # already set: nothing to do


def test_tuned_environment_keeps_other_tunables():
    env = runtime.tuned_environment({"GLIBC_TUNABLES": "glibc.malloc.arena_max=2"})
    assert env["GLIBC_TUNABLES"] == f"glibc.malloc.arena_max=2:{runtime.HUGEPAGE_TUNABLE}"


def test_switched_off_by_environment():
    assert runtime.tuned_environment({"JTSGEN_HOST_TUNABLES": "0"}) is None


@pytest.mark.parametrize("text, expected", [
    ("always [madvise] never\n", True), ("[always] madvise never\n", True),
    ("always madvise [never]\n", False)])
def test_transparent_hugepage_setting_is_parsed(tmp_path, text, expected):
    path = tmp_path / "enabled"
    path.write_text(text)
    assert runtime.transparent_hugepages_available(path) is expected
    assert not runtime.transparent_hugepages_available(tmp_path / "missing")


@pytest.mark.skipif(not sys.platform.startswith("linux")
                    or not runtime.transparent_hugepages_available(),
                    reason="needs Linux with transparent huge pages")
def test_reexec_runs_the_command_again_with_the_tunable_and_only_once():
    script = ("import os, sys; print('start', flush=True); "
              "from jtsgen.runtime import reexec_with_host_tunables; "
              "reexec_with_host_tunables(); print(os.environ['GLIBC_TUNABLES'], sys.argv[1:])")
    drop = ("GLIBC_TUNABLES", "JTSGEN_HOST_TUNABLES")
    env = {k: v for k, v in os.environ.items() if k not in drop}
    out = subprocess.run([sys.executable, "-c", script, "a", "b"], capture_output=True,
                         text=True, env=env, check=True).stdout.splitlines()
    assert out == ["start", "start", f"{runtime.HUGEPAGE_TUNABLE} ['a', 'b']"]

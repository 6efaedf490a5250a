"""NAB loader: labels from combined_windows.json, subsets, cache and downloads."""

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from jtsgen.data import NAB_SUBSETS, load_nab
from jtsgen.errors import InputError

NAB = Path(__file__).resolve().parents[2] / "shared" / "data" / "nab"
needs_nab = pytest.mark.skipif(
    not (NAB / "labels" / "combined_windows.json").is_file(),
    reason=f"no NAB checkout at {NAB}",
)
KNOWN = "realAWSCloudwatch/ec2_cpu_utilization_24ae8d.csv"


@needs_nab
def test_labels_of_known_file_match_combined_windows():
    (series,) = load_nab(files=[KNOWN], root=NAB)
    frame = pd.read_csv(NAB / "data" / KNOWN)
    ts = pd.to_datetime(frame["timestamp"])
    windows = json.loads((NAB / "labels" / "combined_windows.json").read_text())[KNOWN]
    expected = np.zeros(len(frame), bool)
    for start, end in windows:
        expected |= ((ts >= pd.Timestamp(start)) & (ts <= pd.Timestamp(end))).to_numpy()
    assert expected.sum() > 0
    assert series.name == KNOWN
    np.testing.assert_array_equal(series.labels_t, expected.astype(np.float32))
    np.testing.assert_array_equal(series.values_t, frame["value"].to_numpy(np.float32))
    assert series.values_t.dtype == np.float32 and series.labels_t.dtype == np.float32
    assert (series.timestamps == pd.DatetimeIndex(ts)).all()


@needs_nab
def test_subset_loads_every_listed_file_and_drops_duplicate_timestamps():
    series = load_nab(["realAWSCloudwatch"], root=NAB)
    listed = json.loads((NAB / "labels" / "combined_windows.json").read_text())
    assert [s.name for s in series] == sorted(k for k in listed if k.startswith("realAWS"))
    for s in series:
        assert len(s.timestamps) == len(s.values_t) == len(s.labels_t)
        assert s.timestamps.is_monotonic_increasing and s.timestamps.is_unique
    with pytest.raises(InputError, match="duplicate timestamps"):
        load_nab(files=["realAWSCloudwatch/ec2_disk_write_bytes_1ef3de.csv"], root=NAB,
                 duplicates="raise")


def test_unknown_subset_is_rejected(tmp_path):
    labels = tmp_path / "labels"
    labels.mkdir()
    (labels / "combined_windows.json").write_text("{}")
    with pytest.raises(InputError, match="unknown NAB subset"):
        load_nab(["realTweet"], root=tmp_path)
    assert "artificialWithAnomaly" in NAB_SUBSETS


@needs_nab
def test_download_into_cache_then_read_offline(tmp_path):
    cache = tmp_path / "nab"
    (series,) = load_nab(files=[KNOWN], cache_dir=cache, base_url=NAB.as_uri())
    assert (cache / "labels" / "combined_windows.json").is_file()
    assert (cache / "data" / KNOWN).is_file()
    assert not (cache / "data" / "realTweets").exists()  # only the needed files
    (again,) = load_nab(files=[KNOWN], cache_dir=cache, base_url=None)
    np.testing.assert_array_equal(again.labels_t, series.labels_t)


@needs_nab
def test_cache_defaults_to_jtsgen_data(tmp_path, monkeypatch):
    monkeypatch.setenv("JTSGEN_DATA", str(tmp_path))
    load_nab(files=[KNOWN], base_url=NAB.as_uri())
    assert (tmp_path / "nab" / "data" / KNOWN).is_file()


def test_offline_without_local_files_says_where_to_put_them(tmp_path):
    cache = tmp_path / "cache"
    offline = (tmp_path / "no_such_server").as_uri()
    with pytest.raises(InputError, match="Put a NAB checkout") as err:
        load_nab(cache_dir=cache, base_url=offline)
    assert str(cache) in str(err.value)


def test_local_root_missing_labels(tmp_path):
    with pytest.raises(InputError, match="combined_windows.json"):
        load_nab(root=tmp_path)

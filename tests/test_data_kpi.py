"""AIOps KPI loader: round trip of a phase-2 style fixture, cache, download, HDF."""

import importlib.util
import zipfile

import numpy as np
import pandas as pd
import pytest

from jtsgen.data import KPI_COLUMNS, load_kpi
from jtsgen.errors import InputError


def _fixture_frame(seed=0):
    """Two KPIs, one-minute steps, rows of the two KPIs interleaved."""
    rng = np.random.default_rng(seed)
    parts = []
    for kpi_id, n, t0 in (("a1b2-c3", 300, 1_500_000_000), ("0ff-77", 200, 1_500_100_020)):
        labels = np.zeros(n, np.int64)
        labels[rng.integers(0, n, size=5)] = 1
        parts.append(pd.DataFrame({
            "timestamp": t0 + 60 * np.arange(n),
            "value": rng.normal(size=n).round(6),
            "label": labels,
            "KPI ID": kpi_id,
        }))
    frame = pd.concat(parts, ignore_index=True)
    order = np.argsort(np.r_[np.arange(300) * 2, np.arange(200) * 3 + 1], kind="stable")
    return frame.iloc[order].reset_index(drop=True)[list(KPI_COLUMNS)]


@pytest.fixture
def kpi_csv(tmp_path):
    path = tmp_path / "kpi.csv"
    _fixture_frame().to_csv(path, index=False)
    return path


def _assert_round_trip(series, frame):
    assert [s.name for s in series] == sorted(frame["KPI ID"].unique())
    for s in series:
        part = frame[frame["KPI ID"] == s.name]
        np.testing.assert_array_equal(s.values_t, part["value"].to_numpy(np.float32))
        np.testing.assert_array_equal(s.labels_t, part["label"].to_numpy(np.float32))
        unix = (s.timestamps - pd.Timestamp(0)) // pd.Timedelta(seconds=1)
        np.testing.assert_array_equal(np.asarray(unix), part["timestamp"].to_numpy())
        assert s.values_t.dtype == np.float32 and s.labels_t.dtype == np.float32
        assert (s.timestamps[1:] - s.timestamps[:-1] == pd.Timedelta(minutes=1)).all()


def test_round_trip_from_local_path(kpi_csv):
    data = load_kpi(kpi_csv)
    _assert_round_trip(data.train, _fixture_frame())
    assert data.test == []


def test_reads_from_cache_folder(kpi_csv, tmp_path, monkeypatch):
    monkeypatch.setenv("JTSGEN_DATA", str(tmp_path / "home"))
    cached = tmp_path / "home" / "kpi" / "phase2_train.csv"
    cached.parent.mkdir(parents=True)
    cached.write_bytes(kpi_csv.read_bytes())
    _assert_round_trip(load_kpi().train, _fixture_frame())


def test_offline_without_file_names_the_exact_path(tmp_path, monkeypatch):
    monkeypatch.setenv("JTSGEN_DATA", str(tmp_path / "home"))
    expected = tmp_path / "home" / "kpi" / "phase2_train.csv"
    with pytest.raises(InputError, match="KPI data not found") as err:
        load_kpi()
    assert f"at {expected}" in str(err.value)


def test_failed_download_is_one_clear_error(tmp_path):
    with pytest.raises(InputError, match="download from .* failed"):
        load_kpi(url=(tmp_path / "missing.csv").as_uri(), cache_dir=tmp_path / "cache")


def test_download_csv_and_zip_into_cache(kpi_csv, tmp_path):
    data = load_kpi(url=kpi_csv.as_uri(), cache_dir=tmp_path / "c1")
    assert (tmp_path / "c1" / "phase2_train.csv").is_file()
    _assert_round_trip(data.train, _fixture_frame())

    archive = tmp_path / "phase2_train.csv.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(kpi_csv, arcname="phase2_train.csv")
    data = load_kpi(url=archive.as_uri(), cache_dir=tmp_path / "c2")
    assert sorted(p.name for p in (tmp_path / "c2").iterdir()) == ["phase2_train.csv"]
    _assert_round_trip(data.train, _fixture_frame())


def test_ground_truth_hdf(kpi_csv, tmp_path):
    hdf = tmp_path / "truth.hdf"
    if importlib.util.find_spec("tables") is None:
        hdf.write_bytes(b"not really hdf")
        with pytest.raises(InputError, match="optional package 'tables'"):
            load_kpi(kpi_csv, ground_truth_hdf=hdf)
    else:
        truth = _fixture_frame(seed=1)
        truth.to_hdf(hdf, key="data")
        _assert_round_trip(load_kpi(kpi_csv, ground_truth_hdf=hdf).test, truth)

"""Every bad-input case raises one InputError naming the file (or argument) and the problem."""

import numpy as np
import pytest

from jtsgen.data import read_kpi_csv, sliding_windows
from jtsgen.data.nab import read_nab_file, read_windows
from jtsgen.errors import InputError

GOOD_NAB = "timestamp,value\n2020-01-01 00:00:00,1.0\n2020-01-01 00:05:00,2.0\n"
KPI_HEADER = "timestamp,value,label,KPI ID\n"


def _write(tmp_path, text, name="bad.csv"):
    path = tmp_path / name
    path.write_text(text)
    return path


def _raises_for_file(path, match, reader=lambda p: read_nab_file(p, [])):
    with pytest.raises(InputError, match=match) as err:
        reader(path)
    assert err.value.source == str(path)
    return err.value


def test_good_nab_file_reads(tmp_path):
    series = read_nab_file(_write(tmp_path, GOOD_NAB), [("2020-01-01 00:05", "2020-01-01 00:06")])
    np.testing.assert_array_equal(series.labels_t, [0, 1])


def test_missing_file(tmp_path):
    _raises_for_file(tmp_path / "absent.csv", "file not found")


def test_empty_file(tmp_path):
    _raises_for_file(_write(tmp_path, ""), "file is empty")


def test_header_only_file(tmp_path):
    _raises_for_file(_write(tmp_path, "timestamp,value\n"), "file is empty")


def test_missing_column(tmp_path):
    _raises_for_file(_write(tmp_path, "timestamp,val\n2020-01-01,1\n"), r"missing column.*'value'")


def test_missing_kpi_id_column(tmp_path):
    path = _write(tmp_path, "timestamp,value,label\n0,1.0,0\n")
    _raises_for_file(path, r"missing column.*'KPI ID'", read_kpi_csv)


def test_nan_value(tmp_path):
    text = "timestamp,value\n2020-01-01 00:00,1.0\n2020-01-01 00:05,\n2020-01-01 00:10,nan\n"
    _raises_for_file(_write(tmp_path, text), r"NaN entries in 2 row\(s\) \(first at row 1\)")


def test_non_numeric_value(tmp_path):
    text = "timestamp,value\n2020-01-01 00:00,1.0\n2020-01-01 00:05,high\n"
    _raises_for_file(_write(tmp_path, text), "non-numeric entries .*row 1")


def test_unparsable_timestamp(tmp_path):
    text = "timestamp,value\n2020-01-01 00:00,1.0\nyesterday,2.0\n"
    _raises_for_file(_write(tmp_path, text), "unparsable timestamp at row 1")


def test_unsorted_timestamps(tmp_path):
    text = "timestamp,value\n2020-01-01 00:05,1.0\n2020-01-01 00:00,2.0\n"
    _raises_for_file(_write(tmp_path, text), "timestamps are not sorted: row 1")


def test_duplicate_timestamps(tmp_path):
    text = GOOD_NAB + "2020-01-01 00:05:00,3.0\n"
    err = _raises_for_file(
        _write(tmp_path, text), "duplicate timestamps: 1 repeated row",
        lambda p: read_nab_file(p, [], duplicates="raise"),
    )
    assert "row 2" in str(err)


def test_unsorted_timestamps_within_a_kpi(tmp_path):
    text = KPI_HEADER + "0,1.0,0,a\n60,1.0,0,b\n120,1.0,0,a\n30,1.0,0,a\n"
    path = _write(tmp_path, text)
    with pytest.raises(InputError, match=r"\[KPI a\]: timestamps are not sorted") as err:
        read_kpi_csv(path)
    assert str(path) in err.value.source


def test_labels_not_zero_or_one(tmp_path):
    path = _write(tmp_path, KPI_HEADER + "0,1.0,0,a\n60,1.0,2,a\n")
    _raises_for_file(path, r"labels must be 0 or 1; found .*2.* at row 1", read_kpi_csv)


def test_labels_length_mismatch():
    with pytest.raises(InputError, match="labels do not match values: 9 labels for 10 time steps"):
        sliding_windows(np.zeros(10), np.zeros(9), length=5, source="my_series")


def test_window_longer_than_series():
    with pytest.raises(InputError, match="window length 240 is longer than the series") as err:
        sliding_windows(np.zeros(100), np.zeros(100), length=240, source="my_series")
    assert err.value.source == "my_series"


def test_nan_in_array_input():
    with pytest.raises(InputError, match="NaN"):
        sliding_windows(np.array([0.0, np.nan, 1.0]), length=2)


def test_bad_window_arguments():
    with pytest.raises(InputError, match="stride: must be a positive integer"):
        sliding_windows(np.zeros(10), length=5, stride=0)
    with pytest.raises(InputError, match=r"values must be \[time\] or \[time, channels\]"):
        sliding_windows(np.zeros((2, 10, 1)), length=5)


def test_bad_windows_json(tmp_path):
    path = _write(tmp_path, "{not json", "combined_windows.json")
    _raises_for_file(path, "not valid JSON", read_windows)
    path = _write(tmp_path, '{"a/b.csv": [["2020-01-02", "2020-01-01"]]}', "w.json")
    _raises_for_file(path, "ends before it starts", read_windows)

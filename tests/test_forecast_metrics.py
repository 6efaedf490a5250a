"""Forecast errors: hand-computed RMSE / MAE / MAPE, per step and overall; the MAPE rule."""

import numpy as np
import pytest

from jtsgen.errors import InputError
from jtsgen.evaluate import forecast_metrics as fmx

# two windows, two horizon steps, one channel
Y_TRUE = np.array([[[1.0], [2.0]], [[4.0], [-2.0]]])
Y_PRED = np.array([[[2.0], [2.0]], [[1.0], [-1.0]]])
# errors: step 1: +1, -3; step 2: 0, +1


def test_overall_known_answers():
    out = fmx.errors(Y_TRUE, Y_PRED)
    assert out["rmse"] == pytest.approx(np.sqrt((1 + 9 + 0 + 1) / 4))
    assert out["mae"] == pytest.approx((1 + 3 + 0 + 1) / 4)
    # |e|/|y|: 1/1, 3/4, 0/2, 1/2
    assert out["mape"] == pytest.approx(100 * (1 + 0.75 + 0 + 0.5) / 4)
    assert out["mape_coverage"] == 1.0


def test_per_step_known_answers():
    out = fmx.errors(Y_TRUE, Y_PRED, per_step=True)
    np.testing.assert_allclose(out["rmse"], [np.sqrt((1 + 9) / 2), np.sqrt(1 / 2)])
    np.testing.assert_allclose(out["mae"], [2.0, 0.5])
    np.testing.assert_allclose(out["mape"], [100 * (1 + 0.75) / 2, 100 * (0 + 0.5) / 2])


def test_mape_skips_targets_below_min_abs_and_reports_coverage():
    y_true = np.array([[[0.0], [1e-9], [2.0], [-4.0]]])
    y_pred = np.array([[[5.0], [1.0], [3.0], [-2.0]]])
    out = fmx.errors(y_true, y_pred, min_abs=0.5)
    assert out["mape"] == pytest.approx(100 * (0.5 + 0.5) / 2)  # only 2.0 and -4.0 count
    assert out["mape_coverage"] == 0.5
    assert out["mae"] == pytest.approx((5 + 1 + 1 + 2) / 4)  # RMSE/MAE keep every point


def test_mape_threshold_per_channel_and_nan_when_nothing_is_kept():
    y_true = np.array([[[1.0, 10.0]]])
    y_pred = np.array([[[2.0, 12.0]]])
    out = fmx.errors(y_true, y_pred, min_abs=np.array([5.0, 5.0]))
    assert out["mape"] == pytest.approx(20.0)  # channel 0 (|1| < 5) skipped
    assert np.isnan(fmx.errors(y_true, y_pred, min_abs=100.0)["mape"])


def test_table_rows_have_one_row_per_step_then_all():
    rows = fmx.table_rows("m", Y_TRUE, Y_PRED)
    assert [r["step"] for r in rows] == ["1", "2", "all"]
    assert rows[-1]["rmse"] == pytest.approx(fmx.errors(Y_TRUE, Y_PRED)["rmse"])


def test_shape_mismatch_is_an_input_error():
    with pytest.raises(InputError, match="y_pred"):
        fmx.errors(Y_TRUE, Y_PRED[:, :1])

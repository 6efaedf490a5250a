"""Datasets, loaders, windows, splits and scalers.

Conventions: series arrays are float32 ``[batch, time, channels]`` (``x_btc``);
labels are float32 ``[batch, time]`` (``y_bt``) with 1 = anomalous step. Bad
input raises :class:`jtsgen.errors.InputError` naming the file or argument.
"""

from jtsgen.data.cache import data_home, dataset_dir
from jtsgen.data.generators import (
    HourlyData,
    PeriodicData,
    SpikesData,
    TrendVolatilityData,
    lab_train_holdout,
    lab_windows,
    make_hourly_multichannel,
    make_periodic_multifeature,
    make_trend_seasonal_spikes,
    make_trend_volatility,
)
from jtsgen.data.kpi import KPI_COLUMNS, KpiData, load_kpi, read_kpi_csv, read_kpi_hdf
from jtsgen.data.labelled import Labelled, concat
from jtsgen.data.nab import NAB_SUBSETS, NAB_URL, load_nab, nab_labels, read_windows
from jtsgen.data.scalers import (
    SCALER_KINDS,
    Scaler,
    fit_minmax_scaler,
    fit_scaler,
    fit_standard_scaler,
)
from jtsgen.data.series import LabelledSeries
from jtsgen.data.sines import KINDS, SinesData, SinesMeta, anomaly_mask, clean_sines, make_sines
from jtsgen.data.splits import (
    Split,
    SplitIndices,
    scaled_split,
    split_arrays,
    split_by_series,
    split_chronological,
)
from jtsgen.data.windows import (
    KPI_WINDOW,
    Windows,
    sliding_windows,
    window_labels,
    windows_from_series,
)

__all__ = [
    "KINDS",
    "KPI_COLUMNS",
    "KPI_WINDOW",
    "NAB_SUBSETS",
    "NAB_URL",
    "SCALER_KINDS",
    "HourlyData",
    "KpiData",
    "Labelled",
    "LabelledSeries",
    "PeriodicData",
    "Scaler",
    "SinesData",
    "SinesMeta",
    "SpikesData",
    "TrendVolatilityData",
    "Split",
    "SplitIndices",
    "Windows",
    "anomaly_mask",
    "clean_sines",
    "concat",
    "data_home",
    "dataset_dir",
    "fit_minmax_scaler",
    "fit_scaler",
    "fit_standard_scaler",
    "lab_train_holdout",
    "lab_windows",
    "load_kpi",
    "load_nab",
    "make_hourly_multichannel",
    "make_periodic_multifeature",
    "make_sines",
    "make_trend_seasonal_spikes",
    "make_trend_volatility",
    "nab_labels",
    "read_kpi_csv",
    "read_kpi_hdf",
    "read_windows",
    "sliding_windows",
    "scaled_split",
    "split_arrays",
    "split_by_series",
    "split_chronological",
    "window_labels",
    "windows_from_series",
]

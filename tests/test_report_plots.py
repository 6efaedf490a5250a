"""Report plots: every figure is written as a readable PNG for uni- and multivariate pairs."""

import matplotlib.image
import numpy as np
import pytest

from jtsgen.evaluate import report_plots


@pytest.mark.parametrize("channels", [None, 3])
def test_save_report_writes_four_pngs(tmp_path, channels):
    rng = np.random.default_rng(0)
    shape = (40, 30) if channels is None else (40, 30, channels)
    real = rng.standard_normal(shape).cumsum(axis=1)
    fake = rng.standard_normal((25,) + shape[1:])
    paths = report_plots.save_report(real, fake, tmp_path)
    assert set(paths) == {"histograms", "acf", "embedding", "samples"}
    for path in paths.values():
        image = matplotlib.image.imread(path)
        assert image.ndim == 3 and image.shape[0] > 100 and image.shape[1] > 100
        assert image.std() > 0  # something was drawn
    assert not list(tmp_path.glob(".*.tmp.png"))  # written atomically

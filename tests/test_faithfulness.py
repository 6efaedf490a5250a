"""Label faithfulness on hand-made generator outputs."""

import numpy as np
import pytest

from jtsgen.evaluate.faithfulness import label_faithfulness


def test_deviation_only_on_labels_is_fully_faithful():
    x0 = np.zeros((2, 10, 1))
    y = np.zeros((2, 10))
    y[0, 3] = y[1, 5:7] = 1
    xy = x0 + 2.0 * y[..., None]
    m = label_faithfulness(xy, x0, y)
    assert m["on_label_share"] == 1.0 and m["dev_off"] == 0.0 and m["dev_on"] == 2.0
    assert m["label_rate"] == pytest.approx(3 / 20) and m["lift"] == pytest.approx(20 / 3)


def test_label_blind_deviation_scores_its_label_rate():
    x0 = np.zeros((1, 10, 2))
    y = np.zeros((1, 10))
    y[0, :2] = 1
    m = label_faithfulness(x0 + 1.0, x0, y)
    assert m["on_label_share"] == pytest.approx(0.2) and m["lift"] == pytest.approx(1.0)

"""Forecasting (seed 003): data preparation, classical baselines, population search.

* :mod:`jtsgen.forecast.data`: a CSV or generated series -> chronological
  70/15/15 split, a scaler fitted on the training part, input/horizon windows;
* :mod:`jtsgen.forecast.baselines`: persistence, seasonal persistence, ARIMA(p,1,0);
* :mod:`jtsgen.forecast.search`: candidates that share shapes trained as one
  vmapped population, selected on validation.

The networks live in :mod:`jtsgen.models.forecast`, the metrics in
:mod:`jtsgen.evaluate.forecast_metrics`.
"""

"""Layer 7, stats: the statistics of per-image outcomes (`statistics`), bootstrap intervals and paired tests
(`resampling`), and the outcomes file behind them (`outcomes`). Imports no property."""

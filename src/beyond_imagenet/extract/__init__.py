"""Layer 5, extract: the GPU stage. One model over the datasets of one job, every view from one decode of each
image, into one cache file (`run`). Imports models, data and the cache contract."""

"""Layer 6, store: the two file contracts between stages. `cache`: the HDF5 outputs of the GPU stage (written by
`extract`, read by `properties`); `rows`: the tidy metric rows every property writes and every table reads."""

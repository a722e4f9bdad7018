"""Layer 1, catalog: what exists, as pure tables. Imports nothing of this package.

The ImageNet-1k label space and its subsets (`labels`), what a dataset can be declared to be for (`roles`), where
each public dataset comes from (`public_datasets`), the model libraries a config can name (`model_sources`), the
VTAB-1k tasks (`vtab`), the paper's reported values (`paper`), and the shipped label maps (`files/`).
"""

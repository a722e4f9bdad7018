"""Layer 3, data: reading images as they are on disk (`samples`, `formats`, `parquet`), the evaluation views of
the invariance study (`views`), and getting the public datasets (`prepare`, `vtab_export`, `manifest`).

Imports the catalog and config. No torch: `vtab_export` runs in its own environment with numpy only.
"""

"""Layer 2, config: the workflow config validated against its schema (`schema`), read into typed specs (`specs`),
and what a run needs from disk (`needs`). Imports only the catalog."""

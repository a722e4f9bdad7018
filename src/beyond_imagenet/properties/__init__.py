"""Properties: one folder per property (`compute` from cached outputs to tidy rows, `plot` from rows to a figure),
and the registry table that says what each reads (re-exported here)."""

from ._registry import ACROSS_MODELS, PER_MODEL, PROPERTIES, Headline, PropertyDef, Settings, property_def

__all__ = ["ACROSS_MODELS", "PER_MODEL", "PROPERTIES", "Headline", "PropertyDef", "Settings", "property_def"]

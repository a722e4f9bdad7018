"""Properties: pure functions from cached logits/features to tidy metric rows."""

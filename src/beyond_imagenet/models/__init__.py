"""Layer 4, models: building networks from a config entry through the source table (`build`), their evaluation
preprocessing (`preprocess`), CLIP zero-shot heads (`zero_shot`) and Table 1's counts (`complexity`).

The only layer besides `extract` that imports torch, timm and open_clip.
"""

"""Class balance: how evenly a model's accuracy and confidence spread over ImageNet's classes. `compute`, `plot`."""

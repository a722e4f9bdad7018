"""Layer 8, figures: the shared style of every figure (the paper's colours, model pairs, saving). Imports
matplotlib; properties' `plot` modules and the summary board use it."""

"""sweepwise: Hydra-configured hyperparameter sweeps for PyTorch, following the recipe for training networks."""

__version__ = "0.1.0"

"""The training loop and what every run needs around it: device and precision, seeding, evaluation, checkpoints,
the output layer's bias from the class priors, and the predictions a run records (dynamics, mistakes). Knows
nothing of sweeps, Optuna or MLflow: it calls back."""

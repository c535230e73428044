"""The training loop and what it needs: device and precision, seeding, evaluation, checkpoints."""

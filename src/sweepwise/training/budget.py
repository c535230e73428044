"""What a planned run's data and step budget leave out, said before it trains: small data sets quietly lose a large
share of each epoch to the dropped last batch, and a handful of optimiser steps shows nothing."""

# an epoch that skips more than this share of the training samples is worth a line
SKIPPED_SHARE = 0.1
# fewer optimiser steps than this, in all, rarely show learning (the preflight's checks train for 150)
FEW_STEPS = 100


def budget_warnings(num_train: int, batch_size: int, steps: int) -> list[str]:
    """One line per problem with the planned run's budget (none for a sound one)."""
    warnings = []
    skipped = num_train % batch_size
    if skipped / num_train > SKIPPED_SHARE:
        warnings.append(
            f"trainer.batch_size={batch_size}: each epoch skips {skipped} of the {num_train} training samples "
            f"({skipped / num_train:.0%}: the last partial batch is dropped); a batch size that divides "
            f"{num_train}, or a smaller one, trains on them all"
        )
    if steps < FEW_STEPS:
        warnings.append(
            f"the run plans only {steps} optimiser steps in all; fewer than {FEW_STEPS} rarely show learning: "
            "more epochs (trainer.epochs) or a smaller batch"
        )
    return warnings

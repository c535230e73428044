"""The recipe's checks (RECIPE.md): a preflight of pass/fail sanity checks run before training or a sweep."""

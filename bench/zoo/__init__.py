"""A zoo of correct, well-known pipelines (models and data sets) for measuring the preflight's false alarms."""

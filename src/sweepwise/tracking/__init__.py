"""Experiment tracking in MLflow: runs, params, metrics, provenance tags and artifacts."""

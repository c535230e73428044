"""Data sets: each loader returns a DataModule that yields (inputs, labels) batches on the training device."""

from sweepwise.data.module import DataModule, StreamingData, TensorData

__all__ = ["DataModule", "StreamingData", "TensorData"]

"""What a local worker that trains with torch imports before its first trial, imported once by the fork server its
workers are forked from (after `worker_imports`): torch (~1.5 s of CPU) and TorchDynamo, which every optimiser's
first step imports (~1.7 s). Each worker paid both again, before its first trial could train.

torch is imported with one OpenMP and one MKL thread, so the server starts no thread pool of which a fork would copy
half; each worker then sets its own share of the cores (`worker_pool`). Nothing here touches CUDA: each worker
initialises the GPUs it is given, as before."""

import gc
import os

THREAD_COUNTS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS")

saved = {name: os.environ.get(name) for name in THREAD_COUNTS}
os.environ.update(dict.fromkeys(THREAD_COUNTS, "1"))
try:
    import torch
    import torch._dynamo
finally:
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value

__all__ = ["torch"]

gc.freeze()

"""The launchers' structured configs: sweepwise's `local` and `slurm`, and hydra-submitit-launcher's
`submitit_slurm` and `submitit_local` with that plugin's fields, meanings and defaults, so that a config written
for it runs unchanged. Where that plugin is installed, its own configs serve those two names (the sweep reads
either); `slurm` takes the same fields with the same defaults, and adds sweepwise's own."""

import importlib.util
from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore

SUBMITIT_PLUGIN = "hydra_plugins.hydra_submitit_launcher"


@dataclass
class LocalLauncherConf:
    """Trials run in persistent worker processes on this machine, one per slot; each slot's trials see only its
    GPUs (through CUDA_VISIBLE_DEVICES)."""

    _target_: str = "hydra_plugins.sweepwise_plugins.local_launcher.LocalLauncher"
    # worker processes for a plain multirun (`-m a=1,2,3`); a sweep uses its n_jobs. null: 2, or on GPUs as many
    # as they hold
    n_workers: int | None = None
    # GPUs each trial sees; null: 1 where there are GPUs, 0 (the CPU) where there are none
    gpus_per_trial: int | None = None
    # trials sharing each GPU at once: for small models that leave a GPU mostly idle
    trials_per_gpu: int = 1
    # the GPU ids trials are placed on; null: those CUDA_VISIBLE_DEVICES lists, else every GPU torch sees.
    # Ids need not be real (trials then run on the CPU): placement can be tried on any machine
    gpus: list[str] | None = None


@dataclass
class SubmititQueueConf:
    """What every submitit job asks for (hydra-submitit-launcher's `BaseQueueConf`)."""

    # where submitit writes each job's pickles and its stdout/stderr (%j: the job id)
    submitit_folder: str | None = "${hydra.sweep.dir}/.submitit/%j"
    # the job's time limit; a job that reaches it is checkpointed and requeued (max_num_timeout times)
    timeout_min: int = 60
    # null: the cluster's default (1)
    cpus_per_task: int | None = None
    # null: none
    gpus_per_node: int | None = None
    # a trial is one task per node; a sweepwise training's processes per node follow trainer.devices
    tasks_per_node: int | None = 1
    # null: the cluster's default memory
    mem_gb: int | None = None
    nodes: int = 1
    name: str = "${hydra.job.name}"
    stderr_to_stdout: bool = False


@dataclass
class SubmititLocalConf(SubmititQueueConf):
    """Each job (each trial of a sweep) a submitit local job on this machine: a process of its own, with the
    `.submitit` folder, time limit and requeue of a cluster job."""

    _target_: str = "hydra_plugins.sweepwise_plugins.submitit_launchers.SubmititLocalLauncher"


@dataclass
class SubmititSlurmConf(SubmititQueueConf):
    """Each job (each trial of a sweep) its own SLURM job, submitted through submitit (hydra-submitit-launcher's
    `SlurmQueueConf`: the same sbatch options, under the same names)."""

    _target_: str = "hydra_plugins.sweepwise_plugins.submitit_launchers.SubmititSlurmLauncher"
    partition: str | None = None
    qos: str | None = None
    comment: str | None = None
    constraint: str | None = None
    exclude: str | None = None
    # generic resources, e.g. gpu:1 (in place of gpus_per_node) or gpu:a100:2
    gres: str | None = None
    cpus_per_gpu: int | None = None
    gpus_per_task: int | None = None
    mem_per_gpu: str | None = None
    mem_per_cpu: str | None = None
    account: str | None = None
    # seconds before the time limit that SLURM signals the job to checkpoint (SLURM checks every 30 s or so)
    signal_delay_s: int = 120
    # how often a job that hits its time limit is requeued from its checkpoint (0: it ends FAIL; preemptions are
    # always requeued)
    max_num_timeout: int = 0
    # the jobs' Python; null: the sweep's own interpreter
    python: str | None = None
    # more sbatch options, e.g. {mail-type: END}
    additional_parameters: dict[str, Any] = field(default_factory=dict)
    # a plain multirun's jobs in flight at once (a sweep keeps n_jobs trials in flight)
    array_parallelism: int = 256
    # shell lines run in the job before Python starts, e.g. ["module load cuda", "source .venv/bin/activate"]
    setup: list[str] | None = None
    # more arguments for srun, e.g. ["--cpu-bind=none"]
    srun_args: list[str] | None = None
    # false: run the tasks without srun (clusters whose srun cannot be nested in sbatch)
    use_srun: bool = True


@dataclass
class SlurmLauncherConf(SubmititSlurmConf):
    """`submitit_slurm`'s fields and defaults, and sweepwise's own: packs of trials per job, and how often the
    cluster is asked about jobs that ended without a result. Each trial's submitit files go beside its log in its
    folder unless `submitit_folder` is set."""

    _target_: str = "hydra_plugins.sweepwise_plugins.slurm_launcher.SlurmLauncher"
    submitit_folder: str | None = None
    # trials sharing each GPU: above 1, one job runs trials_per_gpu x max(GPUs per node, 1) one-process trials
    # at once, each as its own task (small models that leave a GPU idle; one queue wait for several trials)
    trials_per_gpu: int = 1
    # seconds between sacct queries for jobs the cluster ended without a result
    poll_interval_s: float = 10.0


def register_launchers(store: ConfigStore) -> None:
    """`local` and `slurm`; `submitit_local` and `submitit_slurm` unless hydra-submitit-launcher, installed,
    registers its own under those names."""
    store.store(group="hydra/launcher", name="local", node=LocalLauncherConf, provider="sweepwise")
    store.store(group="hydra/launcher", name="slurm", node=SlurmLauncherConf, provider="sweepwise")
    if importlib.util.find_spec(SUBMITIT_PLUGIN) is None:
        store.store(group="hydra/launcher", name="submitit_local", node=SubmititLocalConf, provider="sweepwise")
        store.store(group="hydra/launcher", name="submitit_slurm", node=SubmititSlurmConf, provider="sweepwise")

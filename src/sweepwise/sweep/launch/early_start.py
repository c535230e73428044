"""The local workers' fork server, started the moment the sweep's own process has its config: the server's
imports (MLflow, Hydra, the trial runner: seconds of CPU) then run on another core while the sweep's process
imports its own and plans, instead of after them, where a small sweep's first trial waited for both."""

from sweepwise.internals.hydra_internals import BASIC_LAUNCHER
from sweepwise.sweep.launch.worker_pool import start_context

# imported once by the server local workers are forked from (named, not imported: the sweep's own process needs
# no database store where it tracks to a server)
WORKER_IMPORTS = "sweepwise.sweep.trial.worker_imports"
LOCAL_LAUNCHERS = (BASIC_LAUNCHER, "hydra_plugins.sweepwise_plugins.local_launcher.LocalLauncher")


def start_worker_server(launcher_target: str) -> None:
    """Start the fork server now where the launcher's trials run in local workers; their pool finds it running."""
    if launcher_target in LOCAL_LAUNCHERS:
        start_context([WORKER_IMPORTS])

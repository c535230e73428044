"""A scripted SLURM, for testing the SLURM executor without a cluster: `sbatch`, `sacct`, `squeue`, `scancel` and
`scontrol` as executables on PATH that log every call and answer from a script of job states the test writes.

Each job's script is a list of states. Every `sacct` (or `squeue`) that lists the job answers the first state and
moves on to the next; the last one stays, as a job that has ended stays ended. `sbatch` keeps the script it was
handed and answers with the next job id; `scancel` and `scontrol requeue` change the job's script as SLURM would.
The commands run this file with the standard library only (`python -S`), so each call costs milliseconds.
"""

import json
import shutil
import sys
from pathlib import Path

# srun is only looked for (submitit checks that it runs on a cluster); the batch script would call it
COMMANDS = ("sbatch", "sacct", "squeue", "scancel", "scontrol", "srun")
FIRST_JOB_ID = 4001
# the states `squeue` lists; a job in any other state has left the queue
QUEUED = ("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "REQUEUED", "SUSPENDED")


class ScriptedCluster:
    """The test's side: install the commands, script each job's states, read what the commands were asked."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.bin = folder / "bin"
        self.scripts = folder / "scripts"

    @classmethod
    def install(cls, folder: Path) -> "ScriptedCluster":
        cluster = cls(folder)
        cluster.bin.mkdir(parents=True)
        cluster.scripts.mkdir()
        cluster._save({"next_id": FIRST_JOB_ID, "jobs": {}, "accounting": True, "refusal": None})
        for command in COMMANDS:
            path = cluster.bin / command
            path.write_text(
                f"#!{sys.executable} -S\n"
                "import sys\n"
                f"sys.path.insert(0, {str(Path(__file__).parent)!r})\n"
                "from scripted_slurm import answer\n"
                f"sys.exit(answer({str(folder)!r}, sys.argv))\n"
            )
            path.chmod(0o755)
        return cluster

    def script(self, job_id: str, *states: str) -> None:
        """The states the job's next `sacct` calls answer, one per call; the last one stays."""
        state = self._load()
        state["jobs"][job_id] = list(states)
        self._save(state)

    def without_accounting(self) -> None:
        """`sacct` fails as it does where SLURM keeps no accounting; `squeue` still answers."""
        state = self._load()
        state["accounting"] = False
        self._save(state)

    def refuse_jobs(self, reason: str) -> None:
        """`sbatch --test-only` refuses every job with this reason."""
        state = self._load()
        state["refusal"] = reason
        self._save(state)

    def calls(self, command: str) -> list[list[str]]:
        """The arguments of every call of `command`, in order."""
        log = self.folder / "calls.jsonl"
        calls = [json.loads(line) for line in log.read_text().splitlines()] if log.exists() else []
        return [call[1:] for call in calls if call[0] == command]

    def submitted_script(self, job_id: str) -> str:
        """The batch script `sbatch` was handed for the job."""
        return (self.scripts / f"{job_id}.sh").read_text()

    def _load(self) -> dict:
        return load_state(self.folder)

    def _save(self, state: dict) -> None:
        (self.folder / "state.json").write_text(json.dumps(state))


def load_state(folder: Path) -> dict:
    state: dict = json.loads((folder / "state.json").read_text())
    return state


def answer(folder_name: str, argv: list[str]) -> int:
    """What one command answers (the commands' side): log the call, then act on the cluster's state."""
    folder = Path(folder_name)
    command, args = Path(argv[0]).name, argv[1:]
    with open(folder / "calls.jsonl", "a") as log:
        log.write(json.dumps([command, *args]) + "\n")
    state = load_state(folder)
    jobs: dict[str, list[str]] = state["jobs"]
    status = 0
    if command == "sbatch":
        status = _sbatch(folder, state, args)
    elif command == "sacct":
        if not state["accounting"]:
            print("sacct: error: Slurm accounting storage is disabled", file=sys.stderr)
            return 1
        print("\n".join(f"{job_id}|{state}" for job_id, state in _poll(jobs, _option(args, "-j"))))
    elif command == "squeue":
        queued = [(job_id, state) for job_id, state in _poll(jobs, _option(args, "-j")) if state in QUEUED]
        print("\n".join(f"{job_id}|{state}" for job_id, state in queued))
    elif command == "scancel":
        for job_id in args:
            if job_id in jobs:
                jobs[job_id] = ["CANCELLED by 0"]
    elif command == "scontrol" and args[:1] == ["requeue"]:
        jobs[args[1]] = ["REQUEUED", "PENDING"]
    (folder / "state.json").write_text(json.dumps(state))
    return status


def _sbatch(folder: Path, state: dict, args: list[str]) -> int:
    if "--test-only" in args:
        if state["refusal"]:
            print(f"sbatch: error: {state['refusal']}", file=sys.stderr)
            return 1
        print("sbatch: Job 1 to start at 2026-12-06T00:00:00 using 1 processors on nodes node1", file=sys.stderr)
        return 0
    job_id = str(state["next_id"])
    state["next_id"] += 1
    state["jobs"][job_id] = ["PENDING"]
    shutil.copyfile(args[-1], folder / "scripts" / f"{job_id}.sh")
    print(f"Submitted batch job {job_id}")
    return 0


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _poll(jobs: dict[str, list[str]], listed: str) -> list[tuple[str, str]]:
    """Each listed job that SLURM knows, with its state now; its script moves on to the next state."""
    answers = []
    for job_id in listed.split(","):
        if job_id in jobs:
            states = jobs[job_id]
            answers.append((job_id, states[0]))
            if len(states) > 1:
                states.pop(0)
    return answers

"""The stores' safety nets in-process: the torn-journal repair, the MLflow writer that stops at its first
failure, and the retry policy taken from `tracking.retry`."""

import os
import threading
from pathlib import Path

import optuna
import pytest
from optuna.storages.journal import JournalFileOpenLock

from sweepwise.errors import ConfigError
from sweepwise.spec.schema import RetrySettings
from sweepwise.study.storage import TORN_SUFFIX, open_storage, repair_torn_tail
from sweepwise.tracking.background import BackgroundWriter
from sweepwise.tracking.retry import ENVIRONMENT, apply_retry_policy, backoff_budget_s


def study_with_trials(path: Path, values: list[float]) -> None:
    study = optuna.create_study(study_name="s", storage=open_storage(str(path)))
    for value in values:
        study.add_trial(optuna.trial.create_trial(value=value, params={}, distributions={}))


def load_values(path: Path) -> list[float]:
    storage = optuna.storages.JournalStorage(optuna.storages.journal.JournalFileBackend(str(path)))
    return [trial.value for trial in optuna.load_study(study_name="s", storage=storage).trials]


def test_a_whole_journal_is_left_as_it_is(tmp_path: Path):
    journal = tmp_path / "s.journal"
    study_with_trials(journal, [1.0, 2.0])
    before = journal.read_bytes()
    assert repair_torn_tail(journal, JournalFileOpenLock(str(journal))) is None
    assert journal.read_bytes() == before and not Path(f"{journal}{TORN_SUFFIX}").exists()


def test_a_complete_last_record_without_its_line_end_is_kept(tmp_path: Path):
    journal = tmp_path / "s.journal"
    study_with_trials(journal, [1.0, 2.0])
    journal.write_bytes(journal.read_bytes().rstrip(b"\n"))
    assert "completed it" in repair_torn_tail(journal, JournalFileOpenLock(str(journal)))
    assert journal.read_bytes().endswith(b"\n") and load_values(journal) == [1.0, 2.0]


def test_a_cut_last_record_is_moved_aside_and_the_rest_stays_readable(tmp_path: Path):
    journal = tmp_path / "s.journal"
    study_with_trials(journal, [1.0, 2.0, 3.0])
    whole = journal.read_bytes()
    journal.write_bytes(whole[:-20])
    assert "moved it to" in repair_torn_tail(journal, JournalFileOpenLock(str(journal)))
    assert whole.startswith(journal.read_bytes()) and journal.read_bytes().endswith(b"\n")
    assert Path(f"{journal}{TORN_SUFFIX}").read_bytes() == whole[len(journal.read_bytes()) : -20] + b"\n"
    assert load_values(journal) == [1.0, 2.0]  # the third trial's last record was the one cut


def test_the_repair_waits_for_a_writer_that_holds_the_lock(tmp_path: Path):
    journal = tmp_path / "s.journal"
    study_with_trials(journal, [1.0])
    lock = JournalFileOpenLock(str(journal))
    lock.acquire()
    journal.write_bytes(journal.read_bytes() + b'{"op_code":')  # a writer midway through its line
    result: list[str | None] = []
    repair = threading.Thread(
        target=lambda: result.append(repair_torn_tail(journal, JournalFileOpenLock(str(journal))))
    )
    repair.start()
    repair.join(timeout=0.5)
    assert repair.is_alive()  # blocked on the lock
    with open(journal, "ab") as file:
        file.write(b"0}\n")  # the writer finishes its line, then lets go
    lock.release()
    repair.join(timeout=10)
    assert result == [None] and journal.read_bytes().endswith(b'{"op_code":0}\n')


def test_after_a_failure_the_writer_fails_every_later_call_at_once():
    writer = BackgroundWriter()
    calls: list[str] = []

    def fail() -> None:
        calls.append("fail")
        raise ConnectionError("store gone")

    writer.submit(fail)
    later = writer.submit(calls.append, "later")
    with pytest.raises(ConnectionError, match="store gone"):
        writer.close()
    with pytest.raises(ConnectionError):
        later.result()
    assert calls == ["fail"]  # the later call never reached the store


def test_the_retry_policy_reaches_mlflow_through_its_environment(monkeypatch: pytest.MonkeyPatch):
    for variable in ENVIRONMENT.values():
        monkeypatch.delenv(variable, raising=False)
    apply_retry_policy(RetrySettings(max_retries=3, backoff_factor=1, timeout_s=None))
    assert os.environ[ENVIRONMENT["max_retries"]] == "3" and os.environ[ENVIRONMENT["backoff_factor"]] == "1"
    assert ENVIRONMENT["timeout_s"] not in os.environ
    assert backoff_budget_s(3, 1) == 2 + 4  # urllib3 sleeps 0, then 2f, 4f, ...
    assert backoff_budget_s(20, 2) == 4 + 8 + 16 + 32 + 64 + 120 * 14  # each sleep capped at 120 s
    with pytest.raises(ConfigError, match="tracking.retry.timeout_s=0: must be a positive whole number"):
        RetrySettings(max_retries=None, backoff_factor=None, timeout_s=0)


def test_the_study_catalog_finds_the_latest_study_and_lists_them_on_a_miss(tmp_path: Path):
    import subprocess
    import sys

    from sweepwise.study.catalog import find_study, local_studies

    folder = tmp_path / "studies"
    folder.mkdir()
    for age, name in ((30, "old"), (20, "demo"), (10, "random_lr_wd")):
        (folder / f"{name}.journal").write_text("")
        os.utime(folder / f"{name}.journal", (1e9 - age, 1e9 - age))
    assert [path.stem for path in local_studies(tmp_path)] == ["random_lr_wd", "demo", "old"]
    assert find_study(None, tmp_path).stem == "random_lr_wd" and find_study("old", tmp_path).stem == "old"

    def catalog(*args: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-m", "sweepwise.study.catalog", *args]
        return subprocess.run(command, cwd=tmp_path, capture_output=True, text=True)

    assert catalog("name").stdout.strip() == "random_lr_wd"
    assert catalog("journal", "demo").stdout.strip() == str(folder / "demo.journal")
    missing = catalog("name", "sphere")
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.strip() == (
        f"error: no study 'sphere' in {folder} (studies here, latest first: random_lr_wd, demo, old)"
    )
    empty = subprocess.run(
        [sys.executable, "-m", "sweepwise.study.catalog", "name"], cwd=folder, capture_output=True, text=True
    )
    assert empty.returncode == 1 and "run a sweep first" in empty.stderr

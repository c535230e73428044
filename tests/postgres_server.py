"""The local PostgreSQL server of `make db-up`, for tests: each test gets fresh databases of its own, dropped after.

The server's URL comes from SWEEPWISE_POSTGRES_URL (what `make db-up` prints), or from the password file that
`make db-up` keeps in its folder."""

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import psycopg

DEFAULT_DIR = Path(os.environ.get("SWEEPWISE_PG_DIR", "/tmp/sweepwise-pg"))
DEFAULT_PORT = os.environ.get("SWEEPWISE_PG_PORT", "5433")


def server_url() -> str | None:
    """`postgresql://user:password@host:port` of the test server, or None when none is configured."""
    if url := os.environ.get("SWEEPWISE_POSTGRES_URL"):
        return url
    password = DEFAULT_DIR / "password"
    if password.is_file():
        return f"postgresql://sweepwise:{password.read_text().strip()}@127.0.0.1:{DEFAULT_PORT}"
    return None


def answers(url: str) -> str | None:
    """None when the server takes a connection; otherwise why not."""
    try:
        with psycopg.connect(f"{url}/postgres", connect_timeout=5):
            return None
    except psycopg.Error as error:
        return str(error).strip().splitlines()[0]


@dataclass
class Databases:
    """A study database and an MLflow database, fresh for one test."""

    server: str
    studies_name: str
    mlflow_name: str

    @classmethod
    def create(cls, server: str) -> "Databases":
        tag = uuid.uuid4().hex[:10]
        databases = cls(server, f"studies_{tag}", f"mlflow_{tag}")
        with psycopg.connect(f"{server}/postgres", autocommit=True) as connection:
            for name in (databases.studies_name, databases.mlflow_name):
                connection.execute(f"CREATE DATABASE {name}")
        return databases

    @property
    def studies(self) -> str:
        return f"{self.server}/{self.studies_name}"

    @property
    def mlflow(self) -> str:
        return f"{self.server}/{self.mlflow_name}"

    def drop(self) -> None:
        with psycopg.connect(f"{self.server}/postgres", autocommit=True) as connection:
            for name in (self.studies_name, self.mlflow_name):
                connection.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

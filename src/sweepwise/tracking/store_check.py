"""Before anything is written: the tracking store answers. A database store that cannot be opened (a wrong
password, a database that does not exist, a server that is down) and a tracking server that nothing listens on
are each one line naming where the URI came from; a server that answers slowly or with an error is left to
MLflow's retries, as a server restarting mid-sweep is."""

import os
import socket
import urllib.error
import urllib.request

import sqlalchemy
import sqlalchemy.exc
import sqlalchemy.pool

from sweepwise.databases import with_driver
from sweepwise.errors import ConfigError, first_line
from sweepwise.tracking.mlflow_run import TRACKING_URI_VARIABLE

DATABASE_STORES = ("postgresql", "mysql", "mssql")
PROBE_TIMEOUT_S = 10.0


def check_tracking_store(uri: str) -> None:
    """Stop with one line when the store at `uri` cannot be reached at all."""
    if uri.startswith(DATABASE_STORES):
        _check_database(uri)
    elif uri.startswith(("http://", "https://")):
        _check_server(uri)


def _key(uri: str) -> str:
    """Where the URI came from: the environment (as MLflow's own tools read it) or the config."""
    from_environment = os.environ.get(TRACKING_URI_VARIABLE)  # as resolved: a database URL gains its driver
    return TRACKING_URI_VARIABLE if from_environment and with_driver(from_environment) == uri else "tracking.uri"


def _check_database(uri: str) -> None:
    engine = sqlalchemy.create_engine(uri, poolclass=sqlalchemy.pool.NullPool)  # one attempt, not MLflow's retries
    try:
        with engine.connect():
            pass
    except sqlalchemy.exc.SQLAlchemyError as error:
        raise ConfigError(_key(uri), uri, f"cannot open ({first_line(_root_cause(error))})") from None
    finally:
        engine.dispose()


def _check_server(uri: str) -> None:
    """One request, no retries: a refused connection or an unknown host means no server is there (MLflow would
    retry it for minutes)."""
    try:
        urllib.request.urlopen(f"{uri.rstrip('/')}/health", timeout=PROBE_TIMEOUT_S).close()
    except urllib.error.URLError as error:
        if isinstance(error.reason, ConnectionRefusedError | socket.gaierror):
            why = f"no MLflow tracking server answers there ({error.reason}): start it, or name another store"
            raise ConfigError(_key(uri), uri, why) from None
    except OSError:  # slow, or it answered in a way of its own: MLflow's retries and messages take it from here
        return


def _root_cause(error: BaseException) -> BaseException:
    while error.__cause__ is not None or error.__context__ is not None:
        error = error.__cause__ or error.__context__  # type: ignore[assignment]  # loop condition: not None
    return error

"""Database URLs as the installed driver reads them: `postgresql://` (what users, Optuna's and MLflow's docs write)
means SQLAlchemy's psycopg2 driver, and sweepwise ships psycopg 3, so such URLs are given its driver name."""

PSYCOPG = "postgresql+psycopg://"


def with_driver(url: str) -> str:
    """`postgresql://...` (or `postgres://...`) as `postgresql+psycopg://...`; any other URL unchanged."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return PSYCOPG + url.removeprefix(plain)
    return url

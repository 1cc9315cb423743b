"""`make services`: the real-service deployment on one machine, with one command.

With PostgreSQL at DATABASE_URL and Redis at REDIS_URL: creates the database if it is missing, migrates it,
empties the Prometheus multiprocess directory, then runs the Procfile under honcho (web on gunicorn, N
workers, beat), every line prefixed with the process's name. Ctrl-C (SIGINT) or SIGTERM stops them all.

    python scripts/services.py [--workers N] [--port PORT]

See docs/operations.md.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from replenish.config import Settings  # noqa: E402


def fail(message: str) -> None:
    print(f"make services: {message}", file=sys.stderr)
    sys.exit(2)


def create_database_if_missing(url: str) -> bool:
    """Creates the database ``url`` names on its server (connecting to the ``postgres`` maintenance
    database); returns whether it had to."""
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url
    target = make_url(url)
    name = target.database
    last_error = None
    for maintenance in ("postgres", "template1"):
        engine = create_engine(target.set(database=maintenance), isolation_level="AUTOCOMMIT",
                               connect_args={"connect_timeout": 5})
        try:
            with engine.connect() as conn:
                if conn.execute(text("SELECT 1 FROM pg_database WHERE datname = :n"), {"n": name}).first():
                    return False
                quoted = conn.dialect.identifier_preparer.quote(name)
                conn.execute(text(f"CREATE DATABASE {quoted}"))
                return True
        except Exception as exc:  # try the other maintenance database, then say what went wrong
            last_error = exc
        finally:
            engine.dispose()
    fail(f"could not reach PostgreSQL to create database {name!r}: {type(last_error).__name__}: "
         f"{str(last_error).splitlines()[0] if str(last_error) else ''}")
    return False


def check_redis(url: str) -> None:
    import redis
    try:
        redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3).ping()
    except Exception as exc:
        fail(f"Redis at REDIS_URL does not answer ({type(exc).__name__}); start it or fix REDIS_URL")


def prepare(env: dict) -> dict:
    """Checks the settings, creates and migrates the database; returns the environment for the processes."""
    settings = Settings.from_env(env)
    if not env.get("DATABASE_URL") or settings.is_sqlite:
        fail("set DATABASE_URL to a PostgreSQL database, e.g. postgresql://postgres@127.0.0.1:5432/replenish")
    if not settings.redis_url:
        fail("set REDIS_URL, e.g. redis://127.0.0.1:6379/0")
    check_redis(settings.redis_url)
    from sqlalchemy.engine import make_url
    shown = make_url(settings.database_url).render_as_string(hide_password=True)
    if create_database_if_missing(settings.database_url):
        print(f"make services: created database {shown}", flush=True)
    from replenish.db import migrate
    migrate(settings.database_url)
    print(f"make services: database at head: {shown}", flush=True)
    out = dict(env)
    # Prometheus multiprocess mode: every process of this deployment writes its samples here; emptied at each
    # start (the files of processes from a previous run would otherwise be summed in forever).
    metrics_dir = Path(env.get("PROMETHEUS_MULTIPROC_DIR") or Path(settings.var_dir).resolve() / "prometheus")
    if metrics_dir.exists():
        shutil.rmtree(metrics_dir)
    metrics_dir.mkdir(parents=True)
    out["PROMETHEUS_MULTIPROC_DIR"] = str(metrics_dir)
    out["REPLENISH_EMBEDDED_WORKER"] = "0"  # the workers are processes of their own here
    out["PYTHONUNBUFFERED"] = "1"  # lines reach the prefixed output as they are written
    # The commands of the Procfile (gunicorn, replenish) from this Python's environment.
    out["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="make services", description=__doc__.split("\n\n")[0])
    parser.add_argument("--workers", type=int, default=int(os.environ.get("WORKERS", "2")),
                        help="worker processes (each runs a Celery pool of 2; default 2 or WORKERS)")
    parser.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")),
                        help="the web port (default 8000 or PORT)")
    args = parser.parse_args(argv)
    if args.workers < 1:
        fail("--workers must be at least 1")
    env = prepare(dict(os.environ))
    command = [sys.executable, "-m", "honcho", "start", "-f", str(ROOT / "Procfile"), "-d", str(ROOT),
               "-e", os.devnull, "-p", str(args.port), "-c", f"web=1,worker={args.workers},beat=1"]
    if not sys.stdout.isatty():
        command.insert(4, "--no-colour")
    os.chdir(ROOT)
    os.execvpe(command[0], command, env)  # honcho takes this process's place: a Ctrl-C reaches it


if __name__ == "__main__":
    main()

"""One migrated test database per run of the suite, cloned for each xdist worker.

pytest-django makes each worker's test database by running every migration: three workers ran
them three times a pass, at the same moment, on a 2-CPU machine (README "What a test costs").
Here the first worker to come migrates a template database (the test database's name with
`_template`) while the others wait on a file lock, and every worker then gets a copy of it
under its usual name: PostgreSQL's `CREATE DATABASE ... TEMPLATE`, a file copy on SQLite. The
controller drops the template when the run ends (tests/conftest.py, pytest_sessionfinish).
--reuse-db and a run without xdist make their databases as pytest-django does."""

from __future__ import annotations

import fcntl
import json
import shutil
from pathlib import Path

TEMPLATE_SUFFIX = "_template"
BUILT = "test-database-template"  # the marker file, in the run's shared temporary folder


def template_name(test_name: str) -> str:
    return f"{test_name}{TEMPLATE_SUFFIX}"


def clone_from_template(connection, *, worker: str, shared: Path) -> None:
    """Make `connection.creation.create_test_db` give this worker a clone of the run's
    template (built by whichever worker comes first) instead of migrating a database anew."""
    creation = connection.creation
    migrate = creation.create_test_db

    def create_test_db(verbosity=1, autoclobber=False, serialize=True, keepdb=False):
        if keepdb or serialize:  # --reuse-db, or a test asks for serialized_rollback
            return migrate(verbosity, autoclobber, serialize, keepdb)
        target = creation._get_test_db_name()
        template = template_name(target.removesuffix(f"_{worker}"))
        test = connection.settings_dict.setdefault("TEST", {})
        with open(shared / f"{BUILT}.lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            if not (shared / BUILT).exists():
                test["NAME"] = template
                migrate(verbosity, autoclobber=True, serialize=False, keepdb=False)
                built = {"template": template, "migrations": migrations(connection)}
                connection.close()  # a template must have no session open
                (shared / BUILT).write_text(json.dumps(built))
            copy_database(connection, template, target)
        test["NAME"] = target
        from django.conf import settings

        settings.DATABASES[connection.alias]["NAME"] = target
        connection.settings_dict["NAME"] = target
        connection.close()
        connection.ensure_connection()
        return target

    creation.create_test_db = create_test_db


def migrations(connection) -> list[list[str]]:
    """The migrations a database has, with when each was applied: a copy has the same times."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT app, name, applied FROM django_migrations ORDER BY id")
        return [[app, name, str(applied)] for app, name, applied in cursor.fetchall()]


def template_of_this_run(shared: Path) -> dict | None:
    built = shared / BUILT
    return json.loads(built.read_text()) if built.exists() else None


def copy_database(connection, template: str, target: str) -> None:
    if connection.vendor == "sqlite":
        Path(target).unlink(missing_ok=True)
        shutil.copyfile(template, target)
        return
    quote = connection.ops.quote_name
    with connection.creation._nodb_cursor() as cursor:
        cursor.execute(f"DROP DATABASE IF EXISTS {quote(target)}")
        cursor.execute(f"CREATE DATABASE {quote(target)} TEMPLATE {quote(template)}")


def drop_template(connection, shared: Path) -> None:
    """The controller's part, when the run ends: drop the template a worker built."""
    built = template_of_this_run(shared)
    if not built:
        return
    template = built["template"]
    if connection.vendor == "sqlite":
        Path(template).unlink(missing_ok=True)
    else:
        quote = connection.ops.quote_name
        with connection.creation._nodb_cursor() as cursor:
            cursor.execute(f"DROP DATABASE IF EXISTS {quote(template)}")
    (shared / BUILT).unlink()

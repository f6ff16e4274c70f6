"""Row counts kept by the database: runs per (experiment, archived, state), steps per
(their run's experiment, bookkeeping node or not, phase), artifacts per (their run's experiment,
kind).

The runs list shows how many runs each state holds, the Executions and Artifacts lists a count
per phase or kind; counting them would read every row (87-95% of the default runs page at a
million runs). Triggers keep the counts on every insert, update and delete instead, whoever
writes (a save, QuerySet.update(), the sync's bulk UPDATE, a COPY, raw SQL), so that a read is
a sum over a few rows.

PostgreSQL: one statement-level trigger per event, over its transition tables, so that a bulk
write adjusts each count once; the count rows are upserted in key order, so two writers lock
them in the same order. A TRUNCATE empties the counts. SQLite: row-level triggers (it has no
others); a migration that rebuilds a table there (how SQLite alters one) drops its triggers, so
`ensure_triggers` (after every migrate) puts them back and recounts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper


@dataclass(frozen=True)
class KeptCount:
    source: str  # the counted table
    target: str  # its counts table: the key columns, then n
    # (key column, its SQL expression over a source row: `{r}` stands for the row's prefix)
    keys: tuple[tuple[str, str], ...]
    watched: tuple[str, ...]  # the source columns the keys read

    @property
    def triggers(self) -> tuple[str, ...]:
        return tuple(f"{self.source}_count_{event}" for event in ("insert", "update", "delete"))

    def _key_sql(self, prefix: str) -> str:
        return ", ".join(expression.format(r=prefix) for _, expression in self.keys)

    def _postgres(self) -> str:
        columns = ", ".join(column for column, _ in self.keys)
        positions = ", ".join(str(i + 1) for i in range(len(self.keys)))
        upsert = (
            f"INSERT INTO {self.target} AS c ({columns}, n) {{select}} "
            f"ON CONFLICT ({columns}) DO UPDATE SET n = c.n + EXCLUDED.n;"
        )
        keys = self._key_sql("")
        inserted = upsert.format(
            select=f"SELECT {keys}, count(*) FROM new_rows "
            f"GROUP BY {positions} ORDER BY {positions}"
        )
        deleted = upsert.format(
            select=f"SELECT {keys}, -count(*) FROM old_rows "
            f"GROUP BY {positions} ORDER BY {positions}"
        )
        updated = upsert.format(
            select=f"SELECT {columns}, sum(d) FROM ("
            f"SELECT {keys}, -1 AS d FROM old_rows UNION ALL SELECT {keys}, 1 FROM new_rows"
            f") AS moved ({columns}, d) GROUP BY {positions} HAVING sum(d) <> 0 "
            f"ORDER BY {positions}"
        )
        function = f"{self.source}_count_apply"
        insert, update, delete = self.triggers
        return f"""
CREATE OR REPLACE FUNCTION {function}() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        {inserted}
    ELSIF TG_OP = 'DELETE' THEN
        {deleted}
    ELSE
        {updated}
    END IF;
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER {insert} AFTER INSERT ON {self.source} REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {update} AFTER UPDATE ON {self.source}
    REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE TRIGGER {delete} AFTER DELETE ON {self.source} REFERENCING OLD TABLE AS old_rows
    FOR EACH STATEMENT EXECUTE FUNCTION {function}();
CREATE OR REPLACE FUNCTION {self.source}_count_truncate() RETURNS trigger AS $$
BEGIN
    DELETE FROM {self.target};
    RETURN NULL;
END
$$ LANGUAGE plpgsql;
CREATE TRIGGER {self.source}_count_truncate AFTER TRUNCATE ON {self.source}
    FOR EACH STATEMENT EXECUTE FUNCTION {self.source}_count_truncate();
"""

    def _sqlite(self) -> list[str]:
        columns = ", ".join(column for column, _ in self.keys)

        def bump(row: str, sign: str) -> str:
            match = " AND ".join(
                f"{column} = ({expression.format(r=row + '.')})" for column, expression in self.keys
            )
            # A decrement only touches a count that is there: Django's flush between tests
            # empties the tables in any order, and one emptied before its rows' table must
            # stay empty, not go negative.
            create = (
                f" INSERT OR IGNORE INTO {self.target} ({columns}, n)"
                f" VALUES ({self._key_sql(row + '.')}, 0);"
                if sign == "+"
                else ""
            )
            return create + f" UPDATE {self.target} SET n = n {sign} 1 WHERE {match};"

        moved = " OR ".join(f"OLD.{c} IS NOT NEW.{c}" for c in self.watched)
        insert, update, delete = self.triggers
        return [
            f"CREATE TRIGGER {insert} AFTER INSERT ON {self.source} BEGIN"
            + bump("NEW", "+")
            + " END",
            f"CREATE TRIGGER {delete} AFTER DELETE ON {self.source} BEGIN"
            + bump("OLD", "-")
            + " END",
            f"CREATE TRIGGER {update} AFTER UPDATE OF {', '.join(self.watched)}"
            f" ON {self.source} WHEN {moved} BEGIN" + bump("OLD", "-") + bump("NEW", "+") + " END",
        ]

    def fill_sql(self) -> str:
        columns = ", ".join(column for column, _ in self.keys)
        positions = ", ".join(str(i + 1) for i in range(len(self.keys)))
        return (
            f"INSERT INTO {self.target} ({columns}, n) "
            f"SELECT {self._key_sql('')}, COUNT(*) FROM {self.source} GROUP BY {positions}"
        )

    def install(self, connection: BaseDatabaseWrapper) -> None:
        """Create the triggers and count the rows already there."""
        if not kept_by_database(connection):
            return
        with connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                cursor.execute(self._postgres())
            else:
                for statement in self._sqlite():
                    cursor.execute(statement)
            cursor.execute(f"DELETE FROM {self.target}")
            cursor.execute(self.fill_sql())

    def remove(self, connection: BaseDatabaseWrapper) -> None:
        if not kept_by_database(connection):
            return
        with connection.cursor() as cursor:
            for trigger in self.triggers:
                on = f" ON {self.source}" if connection.vendor == "postgresql" else ""
                cursor.execute(f"DROP TRIGGER IF EXISTS {trigger}{on}")
            if connection.vendor == "postgresql":
                cursor.execute(
                    f"DROP TRIGGER IF EXISTS {self.source}_count_truncate ON {self.source}"
                )
                cursor.execute(f"DROP FUNCTION IF EXISTS {self.source}_count_truncate()")
                cursor.execute(f"DROP FUNCTION IF EXISTS {self.source}_count_apply()")
            cursor.execute(f"DELETE FROM {self.target}")


BOOKKEEPING_SQL = "('DAG', 'Steps', 'StepGroup', 'TaskGroup', 'Retry')"

RUN_STATES = KeptCount(
    source="runs_run",
    target="runs_runstatecount",
    keys=(
        ("experiment_id", "{r}experiment_id"),
        ("archived", "{r}archived_at IS NOT NULL"),
        ("state", "{r}state"),
    ),
    watched=("experiment_id", "archived_at", "state"),
)
# Migration 0012's counts, before projects (0013 replaces them by the ones below).
STEP_PHASES_V1 = KeptCount(
    source="runs_step",
    target="runs_stepphasecount",
    keys=(("bookkeeping", "{r}node_type IN " + BOOKKEEPING_SQL), ("phase", "{r}phase")),
    watched=("node_type", "phase"),
)
ARTIFACT_KINDS_V1 = KeptCount(
    source="runs_artifact",
    target="runs_artifactkindcount",
    keys=(("kind", "{r}kind"),),
    watched=("kind",),
)
# Migration 0013's counts, by project (0015 replaces them by the ones below).
RUN_PROJECT_SQL = (
    "(SELECT e.project_id FROM runs_run r JOIN experiments_experiment e"
    " ON e.id = r.experiment_id WHERE r.id = {r}run_id)"
)
STEP_PHASES_V2 = KeptCount(
    source="runs_step",
    target="runs_stepphasecount",
    keys=(
        ("project_id", RUN_PROJECT_SQL),
        ("bookkeeping", "{r}node_type IN " + BOOKKEEPING_SQL),
        ("phase", "{r}phase"),
    ),
    watched=("run_id", "node_type", "phase"),
)
ARTIFACT_KINDS_V2 = KeptCount(
    source="runs_artifact",
    target="runs_artifactkindcount",
    keys=(("project_id", RUN_PROJECT_SQL), ("kind", "{r}kind")),
    watched=("run_id", "kind"),
)
# The experiment of a step's or an artifact's run, so that a catalogue filtered by one
# experiment reads that experiment's counts, and a project's list the sum over its experiments
# (as the runs list does). A run keeps its experiment (the admin shows it read-only; nothing
# else writes it), so the key of a row is fixed once written. A step or artifact is deleted
# before its run (Django's cascade order; an experiment protects its runs, so deleting one
# deletes its runs first), while the run is still there to name the experiment.
RUN_EXPERIMENT_SQL = "(SELECT r.experiment_id FROM runs_run r WHERE r.id = {r}run_id)"
STEP_PHASES = KeptCount(
    source="runs_step",
    target="runs_stepphasecount",
    # catalog_filters.BOOKKEEPING_NODE_TYPES: the Executions list hides them by default.
    keys=(
        ("experiment_id", RUN_EXPERIMENT_SQL),
        ("bookkeeping", "{r}node_type IN " + BOOKKEEPING_SQL),
        ("phase", "{r}phase"),
    ),
    watched=("run_id", "node_type", "phase"),
)
ARTIFACT_KINDS = KeptCount(
    source="runs_artifact",
    target="runs_artifactkindcount",
    keys=(("experiment_id", RUN_EXPERIMENT_SQL), ("kind", "{r}kind")),
    watched=("run_id", "kind"),
)


def kept_by_database(connection: BaseDatabaseWrapper) -> bool:
    """Whether this database keeps the counts (the lists count rows themselves otherwise)."""
    return connection.vendor in ("postgresql", "sqlite")


def install_triggers(connection: BaseDatabaseWrapper) -> None:
    """Migration 0011: the runs' state counts."""
    RUN_STATES.install(connection)


def remove_triggers(connection: BaseDatabaseWrapper) -> None:
    RUN_STATES.remove(connection)


def ensure_triggers(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    """SQLite only: recreate the triggers a table rebuild dropped, and recount."""
    if connection.vendor != "sqlite":
        return
    tables = set(connection.introspection.table_names())
    for kept in (RUN_STATES, STEP_PHASES, ARTIFACT_KINDS):
        if kept.source not in tables or kept.target not in tables:
            continue  # not migrated this far
        with connection.cursor() as cursor:
            columns = {
                column.name
                for column in connection.introspection.get_table_description(cursor, kept.target)
            }
        if not {column for column, _ in kept.keys} <= columns:
            continue  # an older key (migrated to before 0015): its migration's triggers stay
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = %s",
                [kept.source],
            )
            present = {row[0] for row in cursor.fetchall()}
        if not set(kept.triggers) <= present:
            kept.remove(connection)
            kept.install(connection)

"""`make test`'s SQLite pass keeps only the tests that reach the database
(--database-tests-only): the rule that decides it, on tests of each kind. And the rule that
keeps a module's tests on one xdist worker (a module-wide fixture of ours), and the
copy of one migrated database each xdist worker gets (tests/databases.py)."""

import pytest

from tests.conftest import runs_on_every_database, shares_a_fixture, uses_database


def test_a_test_without_a_database_fixture_is_left_to_the_postgresql_pass(request):
    assert not uses_database(request.node)


def test_the_db_fixture_keeps_a_test(request, db):
    assert uses_database(request.node)


@pytest.fixture
def a_user(django_user_model):  # the database through another fixture
    return django_user_model.objects.create_user("bob")


def test_a_fixture_that_uses_the_database_keeps_a_test(request, a_user):
    assert uses_database(request.node)


def test_the_live_server_keeps_a_test(request, live_server):
    assert uses_database(request.node)


@pytest.mark.django_db
def test_the_django_db_mark_keeps_a_test(request):
    assert uses_database(request.node)


@pytest.mark.database
def test_the_database_mark_keeps_a_test(request):
    assert uses_database(request.node)


@pytest.mark.any_database
def test_the_any_database_mark_leaves_a_test_to_the_postgresql_pass(request, db):
    assert uses_database(request.node)
    assert not runs_on_every_database(request.node)


@pytest.fixture(scope="module")
def module_wide():
    return object()


def test_a_module_wide_fixture_of_ours_keeps_the_module_together(request, module_wide):
    assert shares_a_fixture(request.node)


def test_pytest_djangos_autouse_class_fixture_does_not(request, db):
    assert not shares_a_fixture(request.node)


def test_an_xdist_workers_database_is_a_copy_of_the_runs_migrated_template(request, db):
    """Under xdist (make test) the migrations ran once, in the run's template, and this
    worker's database is a copy of it: the same migrations applied at the same moments."""
    from django.db import connection

    from tests import databases

    if not hasattr(request.config, "workerinput"):
        pytest.skip("one process migrates its own database (no xdist)")
    shared = request.config._tmp_path_factory.getbasetemp().parent
    built = databases.template_of_this_run(shared)
    assert built, "no worker migrated a template database"
    assert connection.settings_dict["NAME"] != built["template"]
    assert databases.migrations(connection) == built["migrations"]

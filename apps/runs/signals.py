"""Signals apps above runs listen to (runs imports none of them)."""

from django.dispatch import Signal

# Sent by the sync once per pass with the runs that reached a final state in it, inside the
# pass's transaction: run_ids (a list of Run primary keys, UUIDs). Receivers that do work
# outside the database queue it for after the commit.
runs_finished = Signal()

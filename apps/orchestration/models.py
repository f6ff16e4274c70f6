# The orchestration app holds the Argo client and the sync tasks; it has no tables of its own.

# The orchestration app is the Argo client (argo.py) and the task-queue helper (queue.py): the
# bottom layer, which every app may use and which uses no app. It has no tables of its own.

"""ydpipelines.localargo: an Argo-compatible engine that runs workflows on one machine.

Start it with ``python -m ydpipelines.localargo``; it speaks the Argo Server REST API.
"""

__version__ = "0.1.0"

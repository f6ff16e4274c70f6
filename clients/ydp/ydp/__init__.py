"""The ydpipelines client: `ydp.client.Client` for Python, `ydp` on the command line."""

from ydp.client import ApiError, Client

__all__ = ["ApiError", "Client"]
__version__ = "0.1.0"

"""Importers turn an uploaded file into the parts of a PipelineVersion.  (CONTRACT STUB: the
importer helper fills it in; keep these names.)"""

from __future__ import annotations


class PipelineImportError(Exception):
    """An upload that cannot become a version. str(error) is the message shown to the user: it
    names the problem and the place (file, node, field, line)."""

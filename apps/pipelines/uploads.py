"""Refusing an upload over YDP_MAX_UPLOAD_BYTES while it arrives, not after.

Django's default handlers spool the whole body to a temporary file before any form sees its
size: a 1 GiB body costs a gigabyte of disk and seconds before the refusal. This handler runs
first: a Content-Length over the cap stops the upload at the first file, and a body that lies
about its length is stopped at the chunk that passes the cap. The form fields sent before the
file (the CSRF token, the names typed) are still read; the view shows why the file is missing.
"""

from __future__ import annotations

from typing import Any

from django.core.files.uploadhandler import FileUploadHandler, StopUpload

from apps.pipelines.importers.bundle import max_upload_bytes

# Room for the form's other fields in a request whose file is just under the cap.
FORM_FIELDS_ALLOWANCE = 64 * 1024


def too_large_message(limit: int | None = None) -> str:
    limit = max_upload_bytes() if limit is None else limit
    mib = 1024 * 1024
    size = f"{limit // mib} MiB" if limit % mib == 0 else f"{limit:,} bytes"
    return f"file too large (max {size})"


def upload_too_large(request: Any) -> bool:
    """Whether CappedUploadHandler stopped this request's upload."""
    return getattr(request, "_ydp_upload_too_large", False)


class CappedUploadHandler(FileUploadHandler):
    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.limit = max_upload_bytes()
        self.declared_too_large = content_length > self.limit + FORM_FIELDS_ALLOWANCE
        self.received = 0

    def new_file(self, *args: Any, **kwargs: Any) -> None:
        super().new_file(*args, **kwargs)
        self.received = 0
        if self.declared_too_large:
            self._stop()

    def receive_data_chunk(self, raw_data: bytes, start: int) -> bytes:
        self.received += len(raw_data)
        if self.received > self.limit:
            self._stop()
        return raw_data  # the next handler stores it

    def file_complete(self, file_size: int) -> None:
        return None

    def _stop(self) -> None:
        self.request._ydp_upload_too_large = True
        # Don't read the rest: the server closes the connection (runserver drains it unstored).
        raise StopUpload(connection_reset=True)

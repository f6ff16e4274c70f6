"""Fetching a pipeline file from a URL for the upload form, without letting anyone use the server
to reach what only the server can reach (SSRF).

The rules, each refused with its own message:
- https only, and no user name or password in the URL;
- the host is resolved first, and every address it resolves to must be public: no loopback,
  private, link-local (cloud metadata lives there), shared, multicast or reserved range;
- the connection goes to the address that was checked (so a DNS answer that changes between the
  check and the connect cannot move it), with TLS verified against the host name;
- redirects are followed up to MAX_REDIRECTS hops, each hop checked as the first;
- the body is capped at the upload limit (a Content-Length over it is refused unread), and the
  whole fetch, redirects included, at YDP_URL_UPLOAD_TIMEOUT_SECONDS.

Tests cannot serve https from a public address: YDP_URL_UPLOAD_TEST_ORIGINS lists the origins
("http://127.0.0.1:8123") exempt from the first two rules; it is never read from the environment.
"""

from __future__ import annotations

import email.message
import http.client
import ipaddress
import posixpath
import socket
import ssl
import time
from dataclasses import dataclass
from urllib.parse import SplitResult, unquote, urljoin, urlsplit

from django.conf import settings
from django.template.defaultfilters import filesizeformat

from apps.pipelines.importers.bundle import max_upload_bytes

MAX_REDIRECTS = 5
REDIRECT_CODES = (301, 302, 303, 307, 308)
_CHUNK = 64 * 1024
_NAT64 = ipaddress.IPv6Network("64:ff9b::/96")


class FetchError(Exception):
    """A URL the upload cannot use; str(error) is the message shown under the URL field."""


@dataclass(frozen=True)
class Fetched:
    url: str  # after redirects
    filename: str
    data: bytes


def timeout_seconds() -> float:
    return float(getattr(settings, "YDP_URL_UPLOAD_TIMEOUT_SECONDS", 20))


def check_url(url: str) -> SplitResult:
    """The URL split, or FetchError if its form alone rules it out (scheme, credentials)."""
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError for a port that is not a number
    except ValueError as error:
        raise FetchError(f"“{url}” is not a valid URL ({error}).") from None
    if _exempt(parts):
        return parts
    if parts.scheme.lower() != "https":
        raise FetchError(
            f"“{url}”: only https:// URLs are accepted (the file must not travel in clear text)."
        )
    if not parts.hostname:
        raise FetchError(f"“{url}” names no host.")
    if parts.username is not None or parts.password is not None:
        raise FetchError(f"“{url}”: URLs with a user name or password are not accepted.")
    return parts


def fetch(url: str) -> Fetched:
    """Download the file at `url` under the rules above. Raises FetchError."""
    deadline = time.monotonic() + timeout_seconds()
    current = url.strip()
    previous = ""
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            parts = check_url(current)
            conn = _connect(parts, current, deadline)
        except FetchError as error:
            if not previous:
                raise
            # Name the redirect: the URL refused is not the one the user typed.
            raise FetchError(f"“{previous}” redirects to {error}") from None
        try:
            sock = conn.sock  # getresponse() hands it to the response for a closing server
            response = _get(conn, parts, current, deadline)
            if response.status in REDIRECT_CODES:
                location = response.getheader("Location")
                if not location:
                    raise FetchError(
                        f"“{current}” answered {response.status} without saying where to go."
                    )
                previous, current = current, urljoin(current, location.strip())
                continue
            if response.status != 200:
                raise FetchError(
                    f"“{current}” answered {response.status} {response.reason}: no file to upload."
                )
            data = _read_capped(sock, response, current, deadline)
            return Fetched(url=current, filename=_filename(response, parts), data=data)
        finally:
            conn.close()
    raise FetchError(f"“{url}” redirects more than {MAX_REDIRECTS} times; give the final URL.")


def _exempt(parts: SplitResult) -> bool:
    origins = getattr(settings, "YDP_URL_UPLOAD_TEST_ORIGINS", ())
    origin = f"{parts.scheme.lower()}://{parts.netloc.lower()}"
    return origin in {o.rstrip("/").lower() for o in origins}


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme.lower() == "https" else 80)


def public_addresses(host: str, port: int, url: str) -> list[str]:
    """Every address `host` resolves to, all checked public; FetchError names one that is not."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as error:
        raise FetchError(f"“{url}”: the host {host} cannot be resolved ({error}).") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    for text in addresses:
        kind = _non_public_kind(ipaddress.ip_address(text.split("%", 1)[0]))
        if kind:
            shown = host if host == text else f"{host} ({text})"
            raise FetchError(
                f"“{url}”: the host {shown} is a {kind} address; only public hosts are fetched."
            )
    return addresses


def _non_public_kind(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str:
    """What kind of non-public address this is, or "" for a public one."""
    if isinstance(address, ipaddress.IPv6Address):
        # IPv6 forms that carry an IPv4 address are judged by it (::ffff:127.0.0.1, 6to4,
        # and NAT64's well-known prefix, which a gateway turns into that IPv4 address).
        embedded = address.ipv4_mapped or address.sixtofour
        if embedded is None and address in _NAT64:
            embedded = ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)
        if embedded is not None:
            address = embedded
    for kind, test in (
        ("unspecified", address.is_unspecified),
        ("loopback", address.is_loopback),
        ("link-local", address.is_link_local),
        ("private", address.is_private),
        ("multicast", address.is_multicast),
        ("reserved", address.is_reserved),
    ):
        if test:
            return kind
    return "" if address.is_global else "non-public"


class _PinnedHTTPConnection(http.client.HTTPConnection):
    """Connects to the checked address, whatever the host name resolves to by now."""

    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        super().__init__(host, port, timeout=timeout)
        self.address = address

    def connect(self) -> None:
        self.sock = socket.create_connection((self.address, self.port), self.timeout)


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    def __init__(self, host: str, port: int, address: str, timeout: float) -> None:
        self.tls = ssl.create_default_context()
        super().__init__(host, port, timeout=timeout, context=self.tls)
        self.address = address

    def connect(self) -> None:
        sock = socket.create_connection((self.address, self.port), self.timeout)
        try:
            self.sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        except BaseException:
            sock.close()
            raise


def _connect(parts: SplitResult, url: str, deadline: float) -> http.client.HTTPConnection:
    host = parts.hostname or ""
    port = _port(parts)
    if _exempt(parts):
        addresses = [str(info[4][0]) for info in socket.getaddrinfo(host, port)][:1]
    else:
        addresses = public_addresses(host, port, url)
    cls = _PinnedHTTPSConnection if parts.scheme.lower() == "https" else _PinnedHTTPConnection
    last: Exception | None = None
    for address in addresses:
        conn = cls(host, port, address, _remaining(deadline, url))
        try:
            conn.connect()
        except TimeoutError:
            conn.close()
            raise FetchError(_timeout_message(url)) from None
        except ssl.SSLError as error:
            conn.close()
            raise FetchError(f"“{url}”: the TLS connection failed ({error.reason}).") from None
        except OSError as error:
            conn.close()
            last = error
            continue
        return conn
    raise FetchError(f"“{url}”: could not connect to {host} ({last}).")


def _get(
    conn: http.client.HTTPConnection, parts: SplitResult, url: str, deadline: float
) -> http.client.HTTPResponse:
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        _arm(conn.sock, deadline, url)
        conn.request(
            "GET",
            path,
            headers={"User-Agent": "ydpipelines", "Accept": "*/*", "Accept-Encoding": "identity"},
        )
        return conn.getresponse()
    except TimeoutError:
        raise FetchError(_timeout_message(url)) from None
    except (OSError, http.client.HTTPException, UnicodeError) as error:
        raise FetchError(f"“{url}”: the request failed ({error}).") from None


def _read_capped(
    sock: socket.socket, response: http.client.HTTPResponse, url: str, deadline: float
) -> bytes:
    limit = max_upload_bytes()
    declared = response.getheader("Content-Length")
    if declared and declared.strip().isdigit() and int(declared) > limit:
        raise FetchError(_too_big_message(url, limit))
    chunks: list[bytes] = []
    size = 0
    try:
        while True:
            _arm(sock, deadline, url)
            chunk = response.read1(_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise FetchError(_too_big_message(url, limit))
            chunks.append(chunk)
    except TimeoutError:
        raise FetchError(_timeout_message(url)) from None
    except (OSError, http.client.HTTPException) as error:
        raise FetchError(f"“{url}”: the download broke off ({error}).") from None
    if not size:
        raise FetchError(f"“{url}” answered with an empty file.")
    return b"".join(chunks)


def _arm(sock: socket.socket | None, deadline: float, url: str) -> None:
    """Each socket wait gets what is left of the whole fetch's time, so a server that drips a
    byte at a time cannot stretch it."""
    left = _remaining(deadline, url)
    if sock is not None:
        sock.settimeout(left)


def _remaining(deadline: float, url: str) -> float:
    left = deadline - time.monotonic()
    if left <= 0:
        raise FetchError(_timeout_message(url))
    return left


def _timeout_message(url: str) -> str:
    return f"“{url}” did not deliver the file within {timeout_seconds():g} seconds."


def _too_big_message(url: str, limit: int) -> str:
    return f"“{url}”: the file is larger than the upload limit ({filesizeformat(limit)})."


def _filename(response: http.client.HTTPResponse, parts: SplitResult) -> str:
    """The name the server gives the file (Content-Disposition), else the URL path's last part."""
    disposition = response.getheader("Content-Disposition")
    if disposition:
        header = email.message.Message()
        header["Content-Disposition"] = disposition
        name = header.get_filename()
        if name:
            return posixpath.basename(name.replace("\\", "/"))
    return posixpath.basename(unquote(parts.path))

"""What the settings classes share: each variable's documentation, and the value checks.

`Doc` is the metadata every settings field carries: what the variable accepts, in the words
its error message uses, and what it does (the configuration table in docs/configuration.md is
generated from it, see app/settings_doc.py). The functions below are the checks more than one field
needs; each raises `ValueError` with a short reason that the error message quotes.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from pydantic import AfterValidator, BeforeValidator

# Hostnames as RFC 1123 labels; IP literals are checked separately with `ipaddress`.
_LABEL = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_HOSTNAME = re.compile(rf"^(?=.{{1,253}}$){_LABEL}(\.{_LABEL})*\.?$")
# An HTTP header name (RFC 9110 token); also the form of a W3C baggage key.
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")

TRUE_FALSE = "true or false (also 1/0, yes/no, on/off)"
MILLISECONDS = "an integer number of milliseconds > 0"
KEY_VALUE_LIST = (
    "a comma-separated list of key=value (keys without spaces, values percent-encoded where "
    "they hold commas), or empty"
)


@dataclass(frozen=True)
class Doc:
    """A settings field's documentation, kept in the field's metadata.

    `allowed` is what the variable accepts, quoted by the error message of a bad value;
    `meaning` is what it does; `default` is the table's wording of the default where the
    value itself would read badly (for example a default computed elsewhere).
    """

    allowed: str
    meaning: str
    default: str | None = None


def _lower(value: Any) -> Any:
    # Operators write INFO as often as info; accept both, store one spelling.
    return value.strip().lower() if isinstance(value, str) else value


def _printable(value: str | None) -> str | None:
    if value is not None and (not value.isprintable() or value != value.strip()):
        raise ValueError("must be printable without surrounding spaces")
    return value


# For `Annotated[...]` fields: an enum read in any case, a name kept printable.
Lower = BeforeValidator(_lower)
Printable = AfterValidator(_printable)


def split_csv(value: Any) -> Any:
    """Turn `"a, b,,c"` into `("a", "b", "c")`; other input is left for pydantic to judge."""
    if isinstance(value, str):
        return tuple(item.strip() for item in value.split(",") if item.strip())
    return value


def is_host(value: str) -> bool:
    try:
        ipaddress.ip_address(value.strip("[]"))
    except ValueError:
        return bool(_HOSTNAME.match(value))
    return True


def validate_dependency(target: str) -> str:
    parts = urlsplit(target)
    if parts.scheme not in ("tcp", "http", "https"):
        raise ValueError(f"unsupported scheme in {target!r}")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in URLs are not supported")
    try:
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"bad port in {target!r}") from exc
    if not parts.hostname or not is_host(parts.hostname):
        raise ValueError(f"bad host in {target!r}")
    if parts.scheme == "tcp" and (port is None or port == 0 or parts.path not in ("", "/")):
        raise ValueError(f"{target!r} needs tcp://host:port")
    if not target.isascii() or any(ch.isspace() for ch in target):
        raise ValueError(f"{target!r} must be plain ASCII without spaces")
    return target


def validate_origin(origin: str) -> str:
    if origin == "*":
        return origin
    parts = urlsplit(origin)
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError(f"bad port in {origin!r}") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or not is_host(parts.hostname)
        or parts.path
        or parts.query
        or parts.fragment
        or parts.username is not None
    ):
        raise ValueError(f"{origin!r} is not an origin")
    return origin


def validate_otlp_endpoint(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise ValueError("the scheme must be http or https")
    if parts.username is not None or parts.password is not None:
        raise ValueError("credentials in URLs are not supported; use the HEADERS variable")
    try:
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        raise ValueError("bad port") from exc
    if not parts.hostname or not is_host(parts.hostname):
        raise ValueError("bad host")
    if parts.fragment or not url.isascii() or any(ch.isspace() for ch in url):
        raise ValueError("must be plain ASCII without spaces or a fragment")
    return url


def key_values(value: str, *, what: str, secret: bool) -> tuple[tuple[str, str], ...]:
    """Parse the OpenTelemetry specification's `key=value,...` lists (W3C baggage style,
    values percent-decoded). A value that may be secret is never quoted in an error."""
    pairs: list[tuple[str, str]] = []
    for position, item in enumerate(value.split(","), start=1):
        if not item.strip():
            continue
        key, sep, raw = item.partition("=")
        key = key.strip()
        shown = f"item {position}" if secret else repr(item.strip())
        if not sep:
            raise ValueError(f"{shown} is not key=value")
        if not _TOKEN.match(key):
            raise ValueError(f"{what} {key!r} must be non-empty, without spaces or separators")
        decoded = unquote(raw.strip())
        if not decoded.isprintable():
            raise ValueError(f"the value of {key!r} holds a control character")
        pairs.append((key, decoded))
    return tuple(pairs)

"""OTLP/HTTP export of the service's spans, with the protobuf request written by hand.

The OpenTelemetry exporter builds a protobuf object per span, per attribute and per value,
and hashes the resource once per span to group the batch; on the export thread, which shares
the server's core, that was about a fifth of a traced request's CPU time (bench/PROFILE.md).
Every span here has the same resource and instrumentation scope, so both are encoded once and
each span is written straight into the `ExportTraceServiceRequest` wire format
(opentelemetry-proto's trace.proto and common.proto; field numbers below). The bytes are the
same as the library's: tests/app/test_otlp.py compares them. Sending (HTTP, retries, timeout,
compression) stays the library's `OTLPSpanExporter`.
"""

from __future__ import annotations

import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.trace.export import SpanExportResult

# SpanFlags: the span's parent is known to be local or remote (0x100), and is remote (0x200).
HAS_IS_REMOTE = 0x100
IS_REMOTE = 0x200

_DOUBLE = struct.Struct("<d")
_FIXED32 = struct.Struct("<I")
_FIXED64 = struct.Struct("<Q")


def _varint(value: int) -> bytes:
    if value < 0:
        value += 1 << 64  # int64: two's complement, ten bytes
    if value < 0x80:
        return bytes((value,))
    out = bytearray()
    while value >= 0x80:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _delimited(tag: bytes, payload: bytes) -> bytes:
    return tag + _varint(len(payload)) + payload


def _string(tag: bytes, text: str) -> bytes:
    """A string field; omitted when empty, as protobuf omits a default scalar."""
    return _delimited(tag, text.encode()) if text else b""


def encode_value(value: Any) -> bytes:
    """An `AnyValue` message (its oneof member is always written, even a default)."""
    if value is None:
        return b""
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _delimited(b"\x0a", value.encode())
    if isinstance(value, int):
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _DOUBLE.pack(value)
    if isinstance(value, bytes):
        return _delimited(b"\x3a", value)
    if isinstance(value, Sequence):
        values = b"".join(_delimited(b"\x0a", encode_value(item)) for item in value)
        return _delimited(b"\x2a", values)
    if isinstance(value, Mapping):
        pairs = b"".join(
            _delimited(b"\x0a", _key_value(str(key), item)) for key, item in value.items()
        )
        return _delimited(b"\x32", pairs)
    raise TypeError(f"invalid attribute value type {type(value)}")


def _key_value(key: str, value: Any) -> bytes:
    return _string(b"\x0a", key) + _delimited(b"\x12", encode_value(value))


# Encoded keys, encoded string values, and whole encoded attributes (tag, key and a string or
# integer value), each up to a bound: most of each span's attributes (scheme, method, protocol
# version, host, port, client, route, status code) repeat from one span to the next, and a
# repeated one then costs one dictionary look-up instead of three encodings and joins.
_KEYS: dict[str, bytes] = {}
_STRING_VALUES: dict[str, bytes] = {}
_FIELDS: dict[tuple[bytes, str, str | int], bytes] = {}
_CACHE_LIMIT = 1024
_FIELD_CACHE_LIMIT = 4096


def _attribute(tag: bytes, key: str, value: Any) -> bytes:
    """One `KeyValue` field under `tag`."""
    encoded_key = _KEYS.get(key)
    if encoded_key is None:
        encoded_key = _string(b"\x0a", key)
        if len(_KEYS) < _CACHE_LIMIT:
            _KEYS[key] = encoded_key
    if type(value) is str:
        encoded = _STRING_VALUES.get(value)
        if encoded is None:
            encoded = _delimited(b"\x12", encode_value(value))
            if len(_STRING_VALUES) < _CACHE_LIMIT:
                _STRING_VALUES[value] = encoded
    else:
        encoded = _delimited(b"\x12", encode_value(value))
    return _delimited(tag, encoded_key + encoded)


def encode_attributes(tag: bytes, attributes: Mapping[str, Any] | None) -> bytes:
    """Repeated `KeyValue` fields under `tag`, in the mapping's order."""
    if not attributes:
        return b""
    parts = []
    for key, value in attributes.items():
        kind = type(value)
        # Exactly str or int: a bool (equal to 1 or 0, and hashed alike) never shares an entry.
        if kind is str or kind is int:
            field = _FIELDS.get((tag, key, value))
            if field is None:
                field = _attribute(tag, key, value)
                if len(_FIELDS) < _FIELD_CACHE_LIMIT:
                    _FIELDS[(tag, key, value)] = field
            parts.append(field)
        else:
            parts.append(_attribute(tag, key, value))
    return b"".join(parts)


def _status(code: int, message: str | None) -> bytes:
    body = _string(b"\x12", message or "")
    if code:
        body += b"\x18" + _varint(code)
    return _delimited(b"\x7a", body)


def _trace_state(trace_state: Any) -> str:
    if trace_state is None:
        return ""
    return ",".join(f"{key}={value}" for key, value in trace_state.items())


# A span's name and kind fields, and its status and flags fields, by their values, up to a
# bound: a service's spans have a few names (one per route template) and fewer statuses.
_HEADS: dict[tuple[str, int], bytes] = {}
_TAILS: dict[tuple[int, str | None, bool], bytes] = {}
_TIMES = struct.Struct("<BQBQ")


def encode_span(span: Any) -> bytes:
    """One `Span` message (trace.proto) from a `ServerSpan` (app/tracing_span.py)."""
    parts = [
        b"\x0a\x10",
        span.trace_id.to_bytes(16, "big"),
        b"\x12\x08",
        span.span_id.to_bytes(8, "big"),
    ]
    if span.trace_state is not None:
        parts.append(_string(b"\x1a", _trace_state(span.trace_state)))
    if span.parent_span_id is not None:
        parts += (b"\x22\x08", span.parent_span_id.to_bytes(8, "big"))
    head = _HEADS.get((span.name, span.kind))
    if head is None:
        head = _string(b"\x2a", span.name) + b"\x30" + _varint(span.kind)
        if len(_HEADS) < _CACHE_LIMIT:
            _HEADS[(span.name, span.kind)] = head
    parts += (
        head,
        _TIMES.pack(0x39, span.start_time, 0x41, span.end_time),
        encode_attributes(b"\x4a", span.attributes),
    )
    if span.dropped_attributes:
        parts += (b"\x50", _varint(span.dropped_attributes))
    for name, timestamp, attributes in span.events:
        event = b"\x09" + _FIXED64.pack(timestamp) + _string(b"\x12", name)
        parts.append(_delimited(b"\x5a", event + encode_attributes(b"\x1a", attributes)))
    if span.dropped_events:
        parts += (b"\x60", _varint(span.dropped_events))
    for context, attributes in span.links:
        # Without the linked context's trace state, as the library's encoder writes it.
        link = (
            b"\x0a\x10"
            + context.trace_id.to_bytes(16, "big")
            + b"\x12\x08"
            + context.span_id.to_bytes(8, "big")
            + encode_attributes(b"\x22", attributes)
            + b"\x35"
            + _FIXED32.pack(HAS_IS_REMOTE | (IS_REMOTE if context.is_remote else 0))
        )
        parts.append(_delimited(b"\x6a", link))
    key = (span.status_code, span.status_description, span.parent_is_remote)
    tail = _TAILS.get(key)
    if tail is None:
        flags = HAS_IS_REMOTE | (IS_REMOTE if span.parent_is_remote else 0)
        tail = _status(span.status_code, span.status_description)
        tail += b"\x85\x01" + _FIXED32.pack(flags)
        if len(_TAILS) < _CACHE_LIMIT:
            _TAILS[key] = tail
    parts.append(tail)
    return b"".join(parts)


class SpanEncoder:
    """`ExportTraceServiceRequest` bytes for batches of spans of one resource and scope."""

    def __init__(
        self,
        resource_attributes: Mapping[str, Any],
        resource_schema_url: str,
        scope_name: str,
        scope_version: str,
        scope_schema_url: str,
    ) -> None:
        self._resource = _delimited(b"\x0a", encode_attributes(b"\x0a", resource_attributes))
        self._resource_schema = _string(b"\x1a", resource_schema_url)
        self._scope = _delimited(
            b"\x0a", _string(b"\x0a", scope_name) + _string(b"\x12", scope_version)
        )
        self._scope_schema = _string(b"\x1a", scope_schema_url)

    def encode(self, spans: Sequence[Any]) -> bytes:
        body = b"".join(_delimited(b"\x12", encode_span(span)) for span in spans)
        scope_spans = _delimited(b"\x12", self._scope + body + self._scope_schema)
        return _delimited(b"\x0a", self._resource + scope_spans + self._resource_schema)


class HandEncodedSpanExporter(OTLPSpanExporter):
    """The library's OTLP/HTTP exporter (endpoint, headers, timeout, retries, compression),
    sending requests encoded by `SpanEncoder` instead of its protobuf objects."""

    def __init__(self, encoder: SpanEncoder, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._encoder = encoder

    def export(self, spans: Sequence[Any]) -> SpanExportResult:
        if self._shutdown:
            return SpanExportResult.FAILURE
        result = self._client.export(self._encoder.encode(spans))
        return SpanExportResult.SUCCESS if result.success else SpanExportResult.FAILURE

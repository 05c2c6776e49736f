"""Data capture's values as CreateEndpointConfig's DataCaptureConfig gets them
(``fields.SENT``)."""

from __future__ import annotations

from typing import Any

from .values import At, Site, ValueOf, as_given


def captured(value_of: ValueOf = as_given) -> ValueOf:
    """Sent where the endpoint captures: real-time and async (the rules refuse the rest)."""
    def value(site: Site, v: Any) -> Any:
        ep = site.endpoint
        return value_of(site, v) if ep is not None and ep.mode in ("realtime", "async") else None
    return value


def capture_options(site: Site, value: Any) -> Any:
    return [{"CaptureMode": mode.title()} for mode in value]


def destination(site: Site, value: Any) -> Any:
    """The URI: yours, or the prefix in the bucket the stack creates (counted at 63
    characters, the longest bucket name)."""
    if value.startswith("s3://"):
        return value
    return At(f"s3://{'b' * 63}/{value}", "destination",
              "counting the bucket the stack creates at 63 characters: ")


def content_types(site: Site, value: Any) -> Any:
    """A list of content types; none: the header is not sent."""
    return list(value) or None

"""Web origins, one way everywhere: as browsers send them (`Origin`), as avatars store the sites allowed
to embed them, as CORS and visitor tokens compare them."""

from urllib.parse import urlsplit


def site_origin(value: str) -> str:
    """The origin of a site address: a page's path, query or fragment (pasted from the address bar) is
    dropped, since the browser sends only scheme, host and port. ValueError unless it is http(s)."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.username is not None:
        raise ValueError(f"{value!r} is not a website address like https://example.com")
    try:
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        raise ValueError(f"{value!r} has a port that is not a number") from None
    return f"{parts.scheme}://{parts.hostname}{port}"


def normalise_origin(value: str | None) -> str | None:
    """An Origin header as avatars store allowed origins; None when absent or not an http(s) origin."""
    if not value:
        return None
    try:
        return site_origin(value)
    except ValueError:
        return None

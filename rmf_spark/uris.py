"""Paths as URIs: joined without ``pathlib``, so ``s3a://bucket/x`` stays a URI.

Every path of the lake, of its exports and of the raw and reference inputs is a string that
may be a local path or a URI (``hdfs://``, ``s3a://``, ``abfss://``, ``file:``); ``pathlib``
would turn ``s3a://b/x`` into ``s3a:/b/x``. Light on purpose (no Spark import): input profiles
join their paths with it before Spark starts.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from urllib.parse import unquote, urlsplit

__all__ = ["absolute", "is_uri", "local_path", "uri_join"]

#: ``scheme:`` at the start of a URI (two characters at least, so ``C:`` is not one)
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]+:")


def is_uri(path: str | os.PathLike[str]) -> bool:
    """True when ``path`` starts with a scheme (``s3a://``, ``hdfs://``, ``file:``).

    >>> is_uri("s3a://bucket/lake"), is_uri("file:/tmp/lake"), is_uri("/tmp/lake")
    (True, True, False)
    """
    return bool(_SCHEME.match(os.fspath(path)))


def uri_join(base: str | os.PathLike[str], *parts: str) -> str:
    """``base/part/...``, as a string; a URI stays a URI, a relative path stays relative.

    >>> uri_join("s3a://bucket/lake/", "mno_a", "bronze/events")
    's3a://bucket/lake/mno_a/bronze/events'
    >>> uri_join("/tmp/out", "manifest.json")
    '/tmp/out/manifest.json'
    """
    text = os.fspath(base)
    tail = [p.strip("/") for p in parts if p.strip("/")]
    if not tail:
        return text
    head = text.rstrip("/")
    if not head and not text.startswith("/"):  # an empty base: the parts alone
        return "/".join(tail)
    return "/".join([head, *tail])


def absolute(path: str | os.PathLike[str]) -> str:
    """A URI as it is, a local path made absolute (``~`` expanded, from the current directory).

    >>> absolute("hdfs://nn/lake")
    'hdfs://nn/lake'
    """
    text = os.fspath(path)
    return text if is_uri(text) else str(Path(text).expanduser().resolve())


def local_path(path: str | os.PathLike[str]) -> Path | None:
    """The local file-system path of ``path`` (a local path or a ``file:`` URI), or None for
    any other scheme (``hdfs://``, ``s3a://``, ...: reached only through Hadoop).

    >>> local_path("file:///tmp/out"), local_path("file:/tmp/out"), local_path("/tmp/out")
    (PosixPath('/tmp/out'), PosixPath('/tmp/out'), PosixPath('/tmp/out'))
    >>> local_path("s3a://bucket/out") is None
    True
    """
    text = os.fspath(path)
    if not is_uri(text):
        return Path(text)
    parts = urlsplit(text)
    if parts.scheme.lower() != "file" or parts.netloc not in ("", "localhost"):
        return None
    return Path(unquote(parts.path))

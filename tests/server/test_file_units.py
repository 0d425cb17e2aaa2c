"""The pure parts of the file service: byte ranges, ETags, Content-Disposition, signed URLs,
upload filenames and media types. Plain synchronous tests without a backend."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

import pytest

from pyairtable_server.errors import ValidationFailed
from pyairtable_server.http.downloads import (
    ByteRange,
    RangeNotSatisfiable,
    content_disposition,
    etag_matches,
    parse_range,
)
from pyairtable_server.http.multipart import safe_filename
from pyairtable_server.routes.files import media_type_of
from pyairtable_server.signed_urls import InvalidSignature, derive_key, sign, signature, verify

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
KEY = derive_key("server-secret")
ETAG = '"sha256-abc"'


@pytest.mark.parametrize(
    ("header", "size", "expected"),
    [
        ("bytes=0-3", 10, (0, 3)),
        ("bytes=2-2", 10, (2, 2)),
        ("bytes=5-", 10, (5, 9)),
        ("bytes=4-100", 10, (4, 9)),  # the end is cut to the file
        ("bytes=-3", 10, (7, 9)),  # the last three bytes
        ("bytes=-30", 10, (0, 9)),  # a suffix longer than the file is all of it
        ("BYTES = 1-2", 10, (1, 2)),  # unit case and spaces around '=' do not matter
        ("bytes= 1-2 ", 10, (1, 2)),
    ],
)
def test_single_ranges(header: str, size: int, expected: tuple[int, int]) -> None:
    found = parse_range(header, size)
    assert found == ByteRange(start=expected[0], end=expected[1], size=size)
    assert found.length == expected[1] - expected[0] + 1
    assert found.content_range == f"bytes {expected[0]}-{expected[1]}/{size}"


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "bytes",
        "bytes=",
        "bytes=-",
        "bytes=a-b",
        "bytes=1-2-3",
        "bytes=5-2",  # last before first: invalid, ignored
        "items=0-3",
        "bytes=0-1,4-5",  # several ranges: the whole file instead of multipart/byteranges
        "bytes=0-1, -2",
        "bytes=" + "9" * 40 + "-",
    ],
)
def test_headers_that_mean_the_whole_file(header: str | None) -> None:
    assert parse_range(header, 10) is None


@pytest.mark.parametrize(
    ("header", "size"),
    [("bytes=10-", 10), ("bytes=10-20", 10), ("bytes=-0", 10), ("bytes=0-", 0), ("bytes=-5", 0)],
)
def test_unsatisfiable_ranges(header: str, size: int) -> None:
    with pytest.raises(RangeNotSatisfiable) as caught:
        parse_range(header, size)
    assert caught.value.content_range == f"bytes */{size}"


def test_if_none_match_compares_weakly_and_accepts_a_star() -> None:
    assert etag_matches(ETAG, ETAG, weak=True)
    assert etag_matches(f'"other", W/{ETAG}', ETAG, weak=True)
    assert etag_matches("*", ETAG, weak=True)
    assert not etag_matches('"other"', ETAG, weak=True)
    assert not etag_matches(None, ETAG, weak=True)


def test_if_range_compares_strongly() -> None:
    assert etag_matches(ETAG, ETAG, weak=False)
    assert not etag_matches(f"W/{ETAG}", ETAG, weak=False)
    assert not etag_matches("*", ETAG, weak=False)
    assert not etag_matches("Wed, 21 Oct 2015 07:28:00 GMT", ETAG, weak=False)


def test_content_disposition_carries_the_exact_name_and_an_ascii_stand_in() -> None:
    value = content_disposition('résumé "final"\\.pdf')
    assert value.startswith('attachment; filename="r_sum_ _final__.pdf"; ')
    encoded = value.split("filename*=UTF-8''", 1)[1]
    assert unquote(encoded) == 'résumé "final"\\.pdf'
    assert all(char.isascii() and char not in ' ";' for char in encoded)


def test_a_signed_url_verifies_until_it_expires() -> None:
    expires, sig = sign(KEY, "filA", now=NOW, ttl_seconds=60)
    assert expires == int(NOW.timestamp()) + 60
    verify(KEY, "filA", expires, sig, now=NOW + timedelta(seconds=59))
    with pytest.raises(InvalidSignature, match="expired"):
        verify(KEY, "filA", expires, sig, now=NOW + timedelta(seconds=60))


@pytest.mark.parametrize(
    ("file_id", "expires_delta", "key"),
    [
        ("filB", 0, KEY),  # another file
        ("filA", 3600, KEY),  # a later expiry
        ("filA", 0, derive_key("another-secret")),  # another server's key
    ],
)
def test_a_tampered_signed_url_is_refused(file_id: str, expires_delta: int, key: bytes) -> None:
    expires, sig = sign(KEY, "filA", now=NOW, ttl_seconds=60)
    with pytest.raises(InvalidSignature, match="signature is invalid"):
        verify(key, file_id, expires + expires_delta, sig, now=NOW)


def test_a_garbled_signature_is_refused() -> None:
    expires, sig = sign(KEY, "filA", now=NOW, ttl_seconds=60)
    for given in ("", sig[:-1], sig + "A", "é" * len(sig)):
        with pytest.raises(InvalidSignature, match="signature is invalid"):
            verify(KEY, "filA", expires, given, now=NOW)


def test_signatures_are_url_safe_and_the_key_is_not_the_secret() -> None:
    assert derive_key("server-secret") != b"server-secret"
    assert derive_key("server-secret") != derive_key("server-secret2")
    sig = signature(KEY, "filA", 1)
    assert sig.replace("-", "").replace("_", "").isalnum()


@pytest.mark.parametrize(
    ("raw", "kept"),
    [
        ("notes.txt", "notes.txt"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\me\\report.pdf", "report.pdf"),
        ("  spaced.txt  ", "spaced.txt"),
        ("cafe\u0301.txt", "café.txt"),  # NFC
    ],
)
def test_safe_filename_keeps_the_last_segment(raw: str, kept: str) -> None:
    assert safe_filename(raw) == kept


@pytest.mark.parametrize("raw", ["a\x00b", "a\nb.txt", "dir/", "..", "x" * 256, "\ud800.txt"])
def test_safe_filename_refuses(raw: str) -> None:
    with pytest.raises(ValidationFailed):
        safe_filename(raw)


def test_media_type_from_the_part_then_the_name_then_octet_stream() -> None:
    assert media_type_of("Image/PNG", "x.bin") == "image/png"
    assert media_type_of("text/plain; charset=utf-8", "x") == "text/plain; charset=utf-8"
    assert media_type_of(None, "photo.jpg") == "image/jpeg"
    assert media_type_of(None, "blob") == "application/octet-stream"
    for bad in ("text", "text/", "a b/c", "text/plain; \x01"):
        with pytest.raises(ValidationFailed):
            media_type_of(bad, "x")

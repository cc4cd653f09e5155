"""providers.signing: the Hub-Signature header, both ways (pure functions, no server)."""

from __future__ import annotations

import hashlib
import hmac
import re

import pytest

from providers import signing
from providers.signing import SignatureError, compute, parse, sign, verify

SECRET = "whsec_example_0123456789abcdef"
BODY = b'{"id":"agent.message:demo"}'
T = 1764000000
# printf '%s' '1764000000.{"id":"agent.message:demo"}' | openssl dgst -sha256 -hmac SECRET
KNOWN = "6f3a1967a59f7718ad360fef731c6dc4333c27288793b8d41fc2be44a8526cfe"


def test_the_digest_is_hmac_sha256_of_timestamp_dot_body():
    assert compute(SECRET, T, BODY) == KNOWN
    assert compute(SECRET.encode(), T, BODY) == KNOWN
    expected = hmac.new(SECRET.encode(), f"{T}.".encode() + BODY, hashlib.sha256).hexdigest()
    assert compute(SECRET, T, BODY) == expected


def test_sign_then_verify():
    header = sign(SECRET, BODY, timestamp=T)
    assert header == f"t={T},v1={KNOWN}"
    assert verify(SECRET, BODY, header, now=T + 10) == T
    now_header = sign(SECRET, BODY)
    assert re.fullmatch(r"t=\d+,v1=[0-9a-f]{64}", now_header)
    assert verify(SECRET, BODY, now_header) > 0


@pytest.mark.parametrize("header", [None, ""])
def test_a_missing_header(header):
    with pytest.raises(SignatureError) as raised:
        verify(SECRET, BODY, header, now=T)
    assert raised.value.problem == "missing"


@pytest.mark.parametrize(
    "header",
    [
        f"v1={KNOWN}",  # no timestamp
        f"t={T}",  # no signature
        f"t=soon,v1={KNOWN}",
        f"t=-5,v1={KNOWN}",
        f"t={T},t={T},v1={KNOWN}",
        "garbage",
        f"t=١٧٦٤,v1={KNOWN}",  # digits, but not ASCII ones
    ],
)
def test_a_malformed_header(header):
    with pytest.raises(SignatureError) as raised:
        verify(SECRET, BODY, header, now=T)
    assert raised.value.problem == "malformed"


def test_the_five_minute_window_both_ways():
    header = sign(SECRET, BODY, timestamp=T)
    assert verify(SECRET, BODY, header, now=T + 300) == T
    assert verify(SECRET, BODY, header, now=T - 300) == T
    for now in (T + 301, T - 301, T + 86400):
        with pytest.raises(SignatureError) as raised:
            verify(SECRET, BODY, header, now=now)
        assert raised.value.problem == "stale"
    assert verify(SECRET, BODY, header, now=T + 1000, tolerance=1000) == T


@pytest.mark.parametrize(
    ("secret", "body", "header"),
    [
        ("another-secret-entirely-000", BODY, f"t={T},v1={KNOWN}"),
        (SECRET, BODY + b" ", f"t={T},v1={KNOWN}"),
        (SECRET, BODY, f"t={T + 1},v1={KNOWN}"),  # the timestamp is signed too
        (SECRET, BODY, f"t={T},v1={KNOWN[:-1]}"),
        (SECRET, BODY, f"t={T},v1=é{KNOWN[1:]}"),
        (SECRET, BODY, f"t={T},v0={KNOWN},v1=00"),  # unknown schemes do not count
    ],
)
def test_a_mismatch(secret, body, header):
    with pytest.raises(SignatureError) as raised:
        verify(secret, body, header, now=T)
    assert raised.value.problem == "mismatch"


def test_rotation_several_secrets_and_several_signatures():
    old, new = "the-old-secret-0123456789", "the-new-secret-0123456789"
    both = sign([new, old], BODY, timestamp=T)
    assert both.count("v1=") == 2
    assert verify(old, BODY, both, now=T) == T
    assert verify(new, BODY, both, now=T) == T
    signed_with_old = sign(old, BODY, timestamp=T)
    assert verify([new, old], BODY, signed_with_old, now=T) == T
    with pytest.raises(SignatureError):
        verify([new], BODY, signed_with_old, now=T)
    assert parse(f"t={T},v1={KNOWN.upper()},v9=x").digests == (KNOWN,)


def test_digests_are_compared_in_constant_time(monkeypatch):
    compared = []
    real = hmac.compare_digest

    def spy(a, b):
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signing.hmac, "compare_digest", spy)
    verify(["x" * 24, SECRET], BODY, f"t={T},v1=00,v1={KNOWN}", now=T)
    assert len(compared) == 4  # every secret against every digest, even after a match


def test_empty_secrets_are_refused():
    with pytest.raises(ValueError):
        sign("", BODY)
    with pytest.raises(ValueError):
        sign([], BODY)

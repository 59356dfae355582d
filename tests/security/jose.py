"""Hand-made JWS tokens for the token attacks, with no crypto library beyond ``hashlib``/``hmac``.

``cryptography`` is not installed (PyJWT then cannot make RS256/ES256 tokens), so the attacker's
RSA and P-256 keys are made here in pure Python. Each signature is checked against its own public
key before use, so a refusal by the app is a refusal of a *validly signed* token.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
from typing import Any


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_json(value: Any) -> str:
    return b64url(json.dumps(value, separators=(",", ":"), default=str).encode())


def int_bytes(value: int, length: int | None = None) -> bytes:
    return value.to_bytes(length or max(1, (value.bit_length() + 7) // 8), "big")


def signing_input(header: dict[str, Any], claims: dict[str, Any]) -> str:
    return f"{b64url_json(header)}.{b64url_json(claims)}"


def hmac_token(header: dict[str, Any], claims: dict[str, Any], key: bytes, digest: str = "sha256") -> str:
    """A JWS signed with HMAC-``digest`` and ``key``, whatever ``header['alg']`` says."""
    message = signing_input(header, claims)
    signature = hmac.new(key, message.encode(), getattr(hashlib, digest)).digest()
    return f"{message}.{b64url(signature)}"


def unsigned_token(header: dict[str, Any], claims: dict[str, Any], signature: str = "") -> str:
    return f"{signing_input(header, claims)}.{signature}"


# --- RSA (RS256, PKCS#1 v1.5) --------------------------------------------------------------------------
_SMALL_PRIMES = [p for p in range(3, 2000, 2) if all(p % d for d in range(3, int(p**0.5) + 1, 2))]
_SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


def _probably_prime(n: int, rounds: int = 24) -> bool:
    if n < 2:
        return False
    for p in _SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(rounds):
        x = pow(2 + secrets.randbelow(n - 3), d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def _prime(bits: int) -> int:
    while True:
        candidate = secrets.randbits(bits) | (1 << (bits - 1)) | (1 << (bits - 2)) | 1
        if _probably_prime(candidate):
            return candidate


def rsa_keypair(bits: int = 2048) -> tuple[int, int, int]:
    """``(n, e, d)`` of a fresh RSA key."""
    e = 65537
    while True:
        p, q = _prime(bits // 2), _prime(bits // 2)
        phi = (p - 1) * (q - 1)
        if p != q and phi % e:
            return p * q, e, pow(e, -1, phi)


def rs256_token(header: dict[str, Any], claims: dict[str, Any], key: tuple[int, int, int]) -> str:
    n, e, d = key
    message = signing_input(header, claims)
    size = (n.bit_length() + 7) // 8
    digest_info = _SHA256_DIGEST_INFO + hashlib.sha256(message.encode()).digest()
    encoded = b"\x00\x01" + b"\xff" * (size - len(digest_info) - 3) + b"\x00" + digest_info
    signature = pow(int.from_bytes(encoded, "big"), d, n)
    assert pow(signature, e, n) == int.from_bytes(encoded, "big"), "RS256 self-check failed"
    return f"{message}.{b64url(int_bytes(signature, size))}"


def rsa_jwk(key: tuple[int, int, int]) -> dict[str, str]:
    n, e, _ = key
    return {"kty": "RSA", "n": b64url(int_bytes(n)), "e": b64url(int_bytes(e))}


def rsa_public_pem(key: tuple[int, int, int]) -> str:
    """A PEM ``PUBLIC KEY`` (SubjectPublicKeyInfo) for the key, as a server would publish it."""

    def der(tag: int, body: bytes) -> bytes:
        if len(body) < 128:
            length = bytes([len(body)])
        else:
            raw = int_bytes(len(body))
            length = bytes([0x80 | len(raw)]) + raw
        return bytes([tag]) + length + body

    def der_int(value: int) -> bytes:
        raw = int_bytes(value)
        return der(0x02, b"\x00" + raw if raw[0] & 0x80 else raw)

    n, e, _ = key
    rsa_oid = der(0x30, der(0x06, bytes.fromhex("2a864886f70d010101")) + b"\x05\x00")
    spki = der(0x30, rsa_oid + der(0x03, b"\x00" + der(0x30, der_int(n) + der_int(e))))
    body = base64.encodebytes(spki).decode().replace("\n", "")
    lines = [body[i : i + 64] for i in range(0, len(body), 64)]
    return "-----BEGIN PUBLIC KEY-----\n" + "\n".join(lines) + "\n-----END PUBLIC KEY-----\n"


# --- ECDSA P-256 (ES256) -------------------------------------------------------------------------------
_P = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF
_A = _P - 3
_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
_G = (
    0x6B17D1F2E12C4247F8BCE6E563A440F277037D812DEB33A0F4A13945D898C296,
    0x4FE342E2FE1A7F9B8EE7EB4A7C0F9E162BCE33576B315ECECBB6406837BF51F5,
)
Point = tuple[int, int] | None


def _add(p1: Point, p2: Point) -> Point:
    if p1 is None:
        return p2
    if p2 is None:
        return p1
    (x1, y1), (x2, y2) = p1, p2
    if x1 == x2 and (y1 + y2) % _P == 0:
        return None
    if p1 == p2:
        slope = (3 * x1 * x1 + _A) * pow(2 * y1, -1, _P) % _P
    else:
        slope = (y2 - y1) * pow(x2 - x1, -1, _P) % _P
    x3 = (slope * slope - x1 - x2) % _P
    return x3, (slope * (x1 - x3) - y1) % _P


def _mul(k: int, point: Point) -> Point:
    result: Point = None
    while k:
        if k & 1:
            result = _add(result, point)
        point = _add(point, point)
        k >>= 1
    return result


def ec_keypair() -> tuple[int, tuple[int, int]]:
    d = 1 + secrets.randbelow(_N - 1)
    q = _mul(d, _G)
    assert q is not None
    return d, q


def es256_token(header: dict[str, Any], claims: dict[str, Any], key: tuple[int, tuple[int, int]]) -> str:
    d, q = key
    message = signing_input(header, claims)
    z = int.from_bytes(hashlib.sha256(message.encode()).digest(), "big")
    while True:
        k = 1 + secrets.randbelow(_N - 1)
        point = _mul(k, _G)
        assert point is not None
        r = point[0] % _N
        s = pow(k, -1, _N) * (z + r * d) % _N
        if r and s:
            break
    w = pow(s, -1, _N)
    check = _add(_mul(z * w % _N, _G), _mul(r * w % _N, q))
    assert check is not None and check[0] % _N == r, "ES256 self-check failed"
    return f"{message}.{b64url(int_bytes(r, 32) + int_bytes(s, 32))}"


def ec_jwk(key: tuple[int, tuple[int, int]]) -> dict[str, str]:
    _, (x, y) = key
    return {"kty": "EC", "crv": "P-256", "x": b64url(int_bytes(x, 32)), "y": b64url(int_bytes(y, 32))}

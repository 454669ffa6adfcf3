"""Keys on the box and the small amount of cryptography built on them.

- outbox key: 32 random bytes (AES-256-GCM), a root-only file created at provisioning
- signing key: the device's Ed25519 key; it signs deletion receipts
- practice public key: Ed25519, verifies signed commands (optional)
- session keys: per session, in memory only (see sessions.py)
"""
from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ..errors import PublishError
from ..regular_file import NotRegularFile, open_regular, read_regular

NONCE_BYTES = 12


def canonical_json(obj: Any) -> bytes:
    """The bytes a signature or a hash is computed over: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def seal(key: bytes, plaintext: bytes, aad: bytes) -> bytes:
    """AES-GCM with a fresh random nonce; the nonce is stored in front of the ciphertext."""
    nonce = os.urandom(NONCE_BYTES)
    return nonce + AESGCM(bytes(key)).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, blob: bytes, aad: bytes) -> bytes:
    """Raises InvalidTag when the blob was altered, truncated or sealed under another key."""
    if len(blob) < NONCE_BYTES + 16:
        raise InvalidTag()
    return AESGCM(bytes(key)).decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], aad)


def write_secret(path: Path, data: bytes) -> None:
    """Create a new file readable by its owner only; never overwrite an existing key."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def read_secret(path: str | Path, what: str) -> bytes:
    """Read a key file, refusing one that others may read."""
    path = Path(path)
    try:  # checked and read through one descriptor: the file cannot change between the two
        fd = open_regular(path)
        with os.fdopen(fd, "rb") as f:
            st = os.fstat(f.fileno())
            data = f.read(1 << 20)
    except FileNotFoundError:
        raise PublishError(f"{path}: {what} not found; create it with `roomnote keys init`") from None
    except NotRegularFile as e:
        raise PublishError(f"{e}: the {what} must be a regular file; restore the provisioned key file") from None
    except OSError as e:
        raise PublishError(f"{path}: cannot read the {what} ({e.strerror}); run roomnote as the key's owner") from None
    if st.st_mode & 0o077:
        raise PublishError(f"{path}: the {what} is readable by other users; run `chmod 600 {path}`")
    if st.st_uid != os.geteuid():
        raise PublishError(f"{path}: the {what} belongs to another user; it must be owned by the user running roomnote")
    return data


def load_outbox_key(path: str | Path) -> bytes:
    key = read_secret(path, "outbox key")
    if len(key) != 32:
        raise PublishError(f"{path}: the outbox key must be 32 bytes, found {len(key)}; restore the provisioned key file")
    return key


def load_signing_key(path: str | Path) -> Ed25519PrivateKey:
    data = read_secret(path, "device signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PublishError(f"{path}: not a PEM private key; restore the provisioned signing key") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise PublishError(f"{path}: the device signing key must be an Ed25519 key")
    return key


def load_public_key(path: str | Path, what: str = "public key") -> Ed25519PublicKey:
    path = Path(path)
    try:
        data = read_regular(path, 1 << 20)
    except NotRegularFile as e:
        raise PublishError(f"{e}: the {what} must be a regular PEM file") from None
    except OSError as e:
        raise PublishError(f"{path}: cannot read the {what} ({e.strerror or e}); pass an existing PEM file") from None
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, TypeError):
        raise PublishError(f"{path}: the {what} is not a PEM public key") from None
    if not isinstance(key, Ed25519PublicKey):
        raise PublishError(f"{path}: the {what} must be an Ed25519 key")
    return key


def private_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def public_pem(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)


def key_id(key: Ed25519PublicKey) -> str:
    """A short fingerprint that names the key in receipts and logs."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return hashlib.sha256(raw).hexdigest()[:16]


def sign(key: Ed25519PrivateKey, data: bytes) -> str:
    return base64.b64encode(key.sign(data)).decode("ascii")


def verify(key: Ed25519PublicKey, signature_b64: str, data: bytes) -> bool:
    try:
        key.verify(base64.b64decode(signature_b64, validate=True), data)
        return True
    except (InvalidSignature, ValueError, TypeError):
        return False


def new_ed25519_pair(private_path: Path) -> Path:
    """Create an Ed25519 key (owner-only) and its public half next to it (<name>.pub.pem)."""
    key = Ed25519PrivateKey.generate()
    write_secret(private_path, private_pem(key))
    pub = private_path.with_name(private_path.name + ".pub.pem")
    pub.write_bytes(public_pem(key.public_key()))
    return pub


def init_device_keys(outbox_key: str | Path, signing_key: str | Path) -> list[str]:
    """Provisioning: create the keys that do not exist yet; existing keys are never replaced."""
    done = []
    p = Path(outbox_key)
    if not p.exists():
        write_secret(p, os.urandom(32))
        done.append(f"created outbox key {p}")
    else:
        load_outbox_key(p)
        done.append(f"kept existing outbox key {p}")
    s = Path(signing_key)
    if not s.exists():
        pub = new_ed25519_pair(s)
        done.append(f"created device signing key {s}; give {pub} to whoever checks receipts")
    else:
        load_signing_key(s)
        done.append(f"kept existing device signing key {s}")
    return done

"""Creates the development RSA key pair that signs (gateway) and verifies (core_banking)
access tokens, unless it exists. Production supplies its own keys through
JWT_PRIVATE_KEY_FILE / JWT_PUBLIC_KEY_FILE."""

import os
import sys
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa


def ensure_key_pair(private_path: Path, public_path: Path) -> bool:
    """Write a new 2048-bit RSA pair when either file is missing; True if written."""
    if private_path.exists() and public_path.exists():
        return False
    private_path.parent.mkdir(parents=True, exist_ok=True)
    public_path.parent.mkdir(parents=True, exist_ok=True)
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public_pem = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    private_path.write_bytes(private_pem)
    os.chmod(private_path, 0o600)
    public_path.write_bytes(public_pem)
    return True


if __name__ == "__main__":
    private = Path(os.environ.get("JWT_PRIVATE_KEY_FILE", "var/keys/jwt-private.pem"))
    public = Path(os.environ.get("JWT_PUBLIC_KEY_FILE", "var/keys/jwt-public.pem"))
    if ensure_key_pair(private, public):
        print(f"[setup] created development JWT keys in {private.parent}", file=sys.stderr)

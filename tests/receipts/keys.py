"""A throw-away signing key for the receipts tests (no key is ever committed)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

PASSWORD = "test-only-p12-password"
NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def make_keys(folder: Path) -> tuple[Path, Path]:
    """A new RSA key and self-signed certificate: (the .p12 file, the certificate's PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([
        x509.NameAttribute(NameOID.COUNTRY_NAME, "VN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Trung tâm Phục vụ hành chính công"),
        x509.NameAttribute(NameOID.COMMON_NAME, "Test receipts signer"),
    ])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1))
            .not_valid_after(NOW + timedelta(days=3650))
            .sign(key, hashes.SHA256()))
    p12 = folder / "signer.p12"
    p12.write_bytes(pkcs12.serialize_key_and_certificates(
        b"signer", key, cert, None,
        serialization.BestAvailableEncryption(PASSWORD.encode())))
    pem = folder / "signer.pem"
    pem.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return p12, pem

"""What building, signing and verifying one e-receipt costs (issue 19).

    python bench/receipts_sign.py [--receipts 500]

A throw-away 2048-bit RSA key and self-signed certificate in a temporary PKCS#12 file; then
``--receipts`` receipts built (recon/receipts/document.py), signed and serialised
(recon/receipts/signing.py), and each one verified again. Prints one JSON line: milliseconds per
receipt for each step, and the size of a signed receipt.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs12
from cryptography.x509.oid import NameOID

from recon.receipts.document import FeeItem, Party, ReceiptContent, build, to_bytes
from recon.receipts.signing import Signer, sign, verify

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)


def _p12(folder: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench receipts signer")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(NOW - timedelta(days=1)).not_valid_after(NOW + timedelta(days=30))
            .sign(key, hashes.SHA256()))
    path = folder / "bench.p12"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        b"bench", key, cert, None, serialization.BestAvailableEncryption(b"bench")))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--receipts", type=int, default=500)
    count = parser.parse_args().receipts
    with tempfile.TemporaryDirectory() as folder:
        signer = Signer.from_p12(_p12(Path(folder)), "bench")
    contents = [ReceiptContent(
        form_code="EBL01", series="26T", number=n, signed_at=NOW,
        collector=Party("Sở Tư pháp tỉnh Huế", "3300101234", "Số 1 Lê Lợi, Huế"),
        payer=Party("Nguyễn Thị Hoa"),
        items=(FeeItem("phí", "Phí thẩm định hồ sơ", 100_000),
               FeeItem("lệ phí", "Lệ phí cấp giấy chứng nhận", 15_000)),
        method="QR", provider_reference=f"FT{n:010d}", dossier_code=f"H57-{n}",
        procedure="Cấp phiếu lý lịch tư pháp", lookup_code="K7Q2M9XW4P")
        for n in range(1, count + 1)]
    start = time.perf_counter()
    unsigned = [build(c) for c in contents]
    built = time.perf_counter()
    documents = [to_bytes(sign(root, signer, NOW)) for root in unsigned]
    signed = time.perf_counter()
    for document in documents:
        verify(document)
    checked = time.perf_counter()
    print(json.dumps({
        "receipts": count,
        "build_ms": round(1000 * (built - start) / count, 3),
        "sign_ms": round(1000 * (signed - built) / count, 3),
        "verify_ms": round(1000 * (checked - signed) / count, 3),
        "bytes": len(documents[0]),
    }))


if __name__ == "__main__":
    main()

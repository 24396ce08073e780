"""Signing a receipt the way Vietnamese e-documents are signed, and checking a signature.

W3C XMLDSig (QĐ 1271/QĐ-CT Part I §IV), built on lxml's C14N and cryptography's RSA:

* the ``Signature`` sits in ``DSCKS/TCThu``, beside the signed data, not inside it;
* ``Reference URI="#<DLCTu Id>"`` and ``Reference URI="#<Object Id>"``: the object holding
  ``SignatureProperties/SignatureProperty[@Target]/SigningTime`` (Vietnam time, no offset) is
  signed too;
* inclusive C14N 1.0, RSA-SHA256, SHA-256 digests;
* ``KeyInfo/X509Data`` carries ``X509SubjectName`` and ``X509Certificate``.

The key and certificate come from a PKCS#12 file (RECON_RECEIPT_P12_FILE and _PASSWORD).
"""

from __future__ import annotations

import base64
import copy
import hashlib
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12
from lxml import etree

from recon.errors import ConfigurationError
from recon.receipts.document import local_time

DS = "http://www.w3.org/2000/09/xmldsig#"
C14N = "http://www.w3.org/TR/2001/REC-xml-c14n-20010315"
RSA_SHA256 = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256"
SHA256 = "http://www.w3.org/2001/04/xmlenc#sha256"
OBJECT_TYPE = "http://www.w3.org/2000/09/xmldsig#Object"
SIGNER_SLOT = "TCThu"  # DSCKS/TCThu: the collecting organisation (tổ chức thu)


class SignatureInvalid(ValueError):
    """A receipt whose signature does not verify; the message says which part failed."""


@dataclass(frozen=True)
class Signer:
    key: rsa.RSAPrivateKey
    certificate: x509.Certificate

    @classmethod
    def from_p12(cls, path: str | Path, password: str | None) -> Signer:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise ConfigurationError(
                f"cannot read RECON_RECEIPT_P12_FILE {path}: {exc.strerror}",
                hint="Point RECON_RECEIPT_P12_FILE at the organisation's .p12 file.") from exc
        try:
            key, cert, _ = pkcs12.load_key_and_certificates(
                data, password.encode("utf-8") if password else None)
        except ValueError as exc:
            raise ConfigurationError(
                "RECON_RECEIPT_P12_FILE could not be opened with RECON_RECEIPT_P12_PASSWORD",
                hint="Check the password, or export the certificate again as PKCS#12.",
            ) from exc
        if not isinstance(key, rsa.RSAPrivateKey) or cert is None:
            raise ConfigurationError("RECON_RECEIPT_P12_FILE must hold an RSA key and its "
                                     "certificate")
        return cls(key, cert)


def _q(tag: str) -> str:
    return f"{{{DS}}}{tag}"


def _c14n(element: etree._Element) -> bytes:
    """Inclusive C14N 1.0 of ``element``'s subtree, with the namespaces it inherits.

    Canonicalised from a copy: the copy's root carries every namespace in scope, which is
    what inclusive C14N of a subtree writes. Serialising the element in place wrote
    ``xmlns=""`` on grandchildren of an element that inherits a default namespace (lxml 6.2
    with libxml2), so the digests of ``Object`` and ``SignedInfo`` differed from xmlsec1's.
    """
    apex = copy.deepcopy(element)
    apex.tail = None
    return etree.tostring(apex, method="c14n", exclusive=False, with_comments=False)


def _digest(element: etree._Element) -> str:
    return base64.b64encode(hashlib.sha256(_c14n(element)).digest()).decode("ascii")


def _sub(parent: etree._Element, tag: str, text: str | None = None,
         **attributes: str) -> etree._Element:
    child = etree.SubElement(parent, _q(tag), attributes)
    if text is not None:
        child.text = text
    return child


def _by_id(root: etree._Element, ident: str) -> etree._Element:
    found = root.xpath("//*[@Id=$i]", i=ident)
    if not isinstance(found, list) or len(found) != 1 or not isinstance(found[0],
                                                                       etree._Element):
        raise SignatureInvalid(f"the reference #{ident} must name exactly one element")
    return found[0]


def sign(root: etree._Element, signer: Signer, signed_at: datetime) -> etree._Element:
    """Sign the receipt ``root`` (in place; also returned) at ``signed_at``."""
    data = root.find("DLCTu")
    slots = root.find("DSCKS")
    if data is None or slots is None or not data.get("Id"):
        raise ValueError("a receipt to sign has DLCTu (with an Id) and DSCKS")
    data_id = data.get("Id", "")
    slot = etree.SubElement(slots, SIGNER_SLOT)
    signature = etree.SubElement(slot, _q("Signature"), {"Id": f"{data_id}-sig"},
                                 nsmap={None: DS})  # type: ignore[dict-item]
    info = _sub(signature, "SignedInfo")
    _sub(info, "CanonicalizationMethod", Algorithm=C14N)
    _sub(info, "SignatureMethod", Algorithm=RSA_SHA256)
    value = _sub(signature, "SignatureValue")
    key_info = _sub(signature, "KeyInfo")
    x509_data = _sub(key_info, "X509Data")
    _sub(x509_data, "X509SubjectName", signer.certificate.subject.rfc4514_string())
    _sub(x509_data, "X509Certificate",
         base64.b64encode(signer.certificate.public_bytes(Encoding.DER)).decode("ascii"))
    time_object = _sub(signature, "Object", Id=f"{data_id}-time")
    properties = _sub(time_object, "SignatureProperties")
    prop = _sub(properties, "SignatureProperty", Target=f"#{data_id}-sig")
    _sub(prop, "SigningTime", local_time(signed_at))
    for target, kind in ((data, None), (time_object, OBJECT_TYPE)):
        attributes = {"URI": f"#{target.get('Id')}"}
        if kind:
            attributes["Type"] = kind
        reference = _sub(info, "Reference", **attributes)
        _sub(_sub(reference, "Transforms"), "Transform", Algorithm=C14N)
        _sub(reference, "DigestMethod", Algorithm=SHA256)
        _sub(reference, "DigestValue", _digest(target))
    raw = signer.key.sign(_c14n(info), padding.PKCS1v15(), hashes.SHA256())
    value.text = base64.b64encode(raw).decode("ascii")
    return root


@dataclass(frozen=True)
class Verified:
    subject: str
    signing_time: str
    certificate: x509.Certificate


def verify(document: bytes) -> Verified:
    """Check the collecting organisation's signature of a receipt; raise SignatureInvalid.

    Every reference's digest, the RSA-SHA256 value over SignedInfo with the certificate in
    KeyInfo, and that the references cover the receipt data and the signing time. Whether the
    certificate is trusted (declared to the tax authority, unexpired) is the caller's check.
    """
    try:
        root = etree.fromstring(document, etree.XMLParser(resolve_entities=False,
                                                          no_network=True))
    except etree.XMLSyntaxError as exc:
        raise SignatureInvalid(f"not well-formed XML: {exc}") from exc
    signature = root.find(f"DSCKS/{SIGNER_SLOT}/{_q('Signature')}")
    data = root.find("DLCTu")
    if signature is None or data is None:
        raise SignatureInvalid("no DLCTu or no DSCKS/TCThu/Signature")
    info = signature.find(_q("SignedInfo"))
    if info is None:
        raise SignatureInvalid("the signature has no SignedInfo")
    for tag, algorithm in (("CanonicalizationMethod", C14N), ("SignatureMethod", RSA_SHA256)):
        node = info.find(_q(tag))
        if node is None or node.get("Algorithm") != algorithm:
            raise SignatureInvalid(f"{tag} must be {algorithm}")
    covered: set[str] = set()
    for reference in info.findall(_q("Reference")):
        uri = reference.get("URI", "")
        if not uri.startswith("#"):
            raise SignatureInvalid(f"unsupported reference {uri!r}")
        transforms = [t.get("Algorithm") for t in reference.iterfind(f"{_q('Transforms')}/"
                                                                     f"{_q('Transform')}")]
        method = reference.find(_q("DigestMethod"))
        if transforms not in ([], [C14N]) or method is None or method.get("Algorithm") != SHA256:
            raise SignatureInvalid(f"reference {uri}: only C14N 1.0 and SHA-256 are accepted")
        target = _by_id(root, uri[1:])
        if reference.findtext(_q("DigestValue")) != _digest(target):
            raise SignatureInvalid(f"reference {uri}: the digest does not match; the signed "
                                   "content was changed")
        covered.add(uri[1:])
    time_node = signature.find(f"{_q('Object')}/{_q('SignatureProperties')}/"
                               f"{_q('SignatureProperty')}/{_q('SigningTime')}")
    time_object = signature.find(_q("Object"))
    if data.get("Id") not in covered or time_object is None or \
            time_object.get("Id") not in covered or time_node is None:
        raise SignatureInvalid("the signature must cover the receipt data and its SigningTime")
    cert_text = signature.findtext(f"{_q('KeyInfo')}/{_q('X509Data')}/{_q('X509Certificate')}")
    if not cert_text:
        raise SignatureInvalid("KeyInfo has no X509Certificate")
    try:
        certificate = x509.load_der_x509_certificate(base64.b64decode(cert_text))
        public_key = certificate.public_key()
        raw = base64.b64decode(signature.findtext(_q("SignatureValue")) or "")
    except ValueError as exc:
        raise SignatureInvalid(f"unreadable certificate or signature value: {exc}") from exc
    if not isinstance(public_key, rsa.RSAPublicKey):
        raise SignatureInvalid("the certificate's key is not RSA")
    try:
        public_key.verify(raw, _c14n(info), padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature as exc:
        raise SignatureInvalid("the signature value does not match SignedInfo") from exc
    subject = signature.findtext(f"{_q('KeyInfo')}/{_q('X509Data')}/{_q('X509SubjectName')}")
    if subject != certificate.subject.rfc4514_string():
        raise SignatureInvalid("X509SubjectName is not the certificate's subject")
    return Verified(subject=subject, signing_time=time_node.text or "",
                    certificate=certificate)


def certificate_facts(certificate: x509.Certificate) -> dict[str, str]:
    """What the organisation's registration declares of a certificate: subject, issuer,
    serial (hex), validity (UTC)."""
    return {"subject": certificate.subject.rfc4514_string(),
            "issuer": certificate.issuer.rfc4514_string(),
            "serial": f"{certificate.serial_number:X}",
            "valid_from": certificate.not_valid_before_utc.strftime("%Y-%m-%d %H:%M UTC"),
            "valid_to": certificate.not_valid_after_utc.strftime("%Y-%m-%d %H:%M UTC")}


def certificates_in(documents: list[bytes]) -> list[dict[str, str]]:
    """The distinct certificates that signed ``documents`` (their KeyInfo), in first-seen
    order."""
    seen: dict[str, dict[str, str]] = {}
    for document in documents:
        root = etree.fromstring(document)
        text = root.findtext(f".//{{{DS}}}X509Certificate")
        if text and text not in seen:
            seen[text] = certificate_facts(x509.load_der_x509_certificate(
                base64.b64decode(text)))
    return list(seen.values())

"""E-receipts (biên lai điện tử) for the fees and charges recon collects.

words (the amount in words, pure), numbering (form code, series, the number register), xml
(the receipt document, our schema) and signing (XMLDSig the Vietnamese way). See
docs/receipts.md.
"""

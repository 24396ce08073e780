"""VietQR: the NAPAS transfer QR codec, the bank directory and rendering."""

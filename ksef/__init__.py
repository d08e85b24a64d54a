"""A plain Python library for the Polish National e-Invoice System (KSeF) API 2.0.

The package has no Django dependency: the portal's apps adapt it. Modules:

* :mod:`ksef.identifiers` — NIP, PESEL, InternalId and KSeF-number checksums.
* :mod:`ksef.environments` — API base URLs and QR hosts of TEST, DEMO, PRD (or a custom one).
* :mod:`ksef.crypto` — RSA-OAEP token/key encryption, AES-256-CBC, hashes, MF public keys.
* :mod:`ksef.certificates` — loading keys and certificates, KSeF certificate facts, CSRs.
* :mod:`ksef.xades` — the signed ``AuthTokenRequest`` for XAdES authentication.
* :mod:`ksef.qr` — KOD I / KOD II verification links and their QR images.
"""

__version__ = "0.1.0"

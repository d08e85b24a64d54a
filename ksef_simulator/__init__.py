"""A local KSeF 2.0 server that behaves like the Ministry of Finance TEST environment.

A separate program: it imports neither Django nor our `ksef/` client, and verifies
signatures and decrypts tokens with its own code built directly on `cryptography`,
`lxml` and `signxml`, so a bug in the client cannot hide behind the same bug here. The one
thing it takes from `ksef/` is data: the Ministry's XSDs that package ships, located by
`ksef.schemas.schema_dir` (the official contract ships here, in `openapi/`).
"""

from ksef_simulator.app import create_app
from ksef_simulator.config import SimulatorConfig

__all__ = ["SimulatorConfig", "create_app"]

"""A batch session end to end against the simulator on a real loopback socket:
``python benchmarks/batch_send.py [--invoices 1000] [--part-size 100000000]``.

Prints, for ``--invoices`` distinct FA(3) invoices (the Ministry's example 1 renumbered):

* building the package with ``ksef.batch.build_batch_package`` (ZIP, cut into parts,
  AES-256-CBC per part, all on disk) — size, parts and time;
* opening the batch session, streaming the parts to the pre-signed links, closing;
* the simulator's processing (decrypt, unpack, FA(3) XSD and the online rules per
  invoice, KSeF numbers, the session UPO) — with no simulated delay the first 1,000
  invoices are verified inside the close request and the rest 1,000 per status poll,
  so the processing time splits between those two lines;
* reading every invoice's status with ``x-continuation-token`` paging;
* the Python heap peak (tracemalloc) of the run — client and simulator share the process,
  and the simulator keeps the uploaded parts in memory, so this is an upper bound of the
  client's, which streams the package from disk.

Profile ``fast`` (no rate limits) and no simulated delays: this measures the work, not the
limits. On a shared, loaded machine the absolute numbers move with the load.
"""

from __future__ import annotations

import argparse
import logging
import sys
import tempfile
import threading
import time
import tracemalloc
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

from werkzeug.serving import make_server  # noqa: E402

from ksef.batch import build_batch_package  # noqa: E402
from ksef.client import KsefClient  # noqa: E402
from ksef.crypto import SYMMETRIC_KEY_ENCRYPTION, select_public_key_certificate  # noqa: E402
from ksef.session import authenticate  # noqa: E402
from ksef_simulator import SimulatorConfig, create_app  # noqa: E402
from tests.ksef.keys import make_certificate, make_ec_key  # noqa: E402

SELLER = "9999999999"
SAMPLE = REPO_ROOT / "tests" / "data" / "ksef" / "samples" / "invoices" / "mf-fa3-example-01.xml"


def invoices(count: int) -> list[tuple[str, bytes]]:
    xml = SAMPLE.read_bytes()
    old = b"<P_2>FV2026/02/150</P_2>"
    return [
        (f"faktura-{n:06d}.xml", xml.replace(old, f"<P_2>BENCH/{n:06d}</P_2>".encode()))
        for n in range(1, count + 1)
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--invoices", type=int, default=1000)
    parser.add_argument("--part-size", type=int, default=100_000_000)
    args = parser.parse_args()

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no request lines (or links)
    app = create_app(SimulatorConfig(profile="fast"))
    server = make_server("127.0.0.1", 0, app, threaded=True)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base_url = f"http://127.0.0.1:{server.server_port}/v2"
    files = invoices(args.invoices)
    key = make_ec_key()
    seal = make_certificate(key, nip=SELLER, organization=True, organization_name="Firma")

    tracemalloc.start()
    with KsefClient(base_url) as client, tempfile.TemporaryDirectory() as folder:
        owner = authenticate(
            client, context_type="Nip", context_value=SELLER, certificate=seal, private_key=key
        )
        public_key = select_public_key_certificate(
            client.get_public_key_certificates(), SYMMETRIC_KEY_ENCRYPTION
        )
        began = time.perf_counter()
        package = build_batch_package(files, part_size=args.part_size, directory=folder)
        built = time.perf_counter()
        session = owner.call(client.open_batch_session, package, public_key=public_key)
        client.upload_batch_parts(session, package)
        owner.call(client.close_batch_session, session.reference_number)
        uploaded = time.perf_counter()
        status = owner.call(client.wait_for_session, session.reference_number, poll_interval=0.1)
        processed = time.perf_counter()
        statuses = list(
            owner.call(client.iter_session_invoices, session.reference_number, page_size=1000)
        )
        listed = time.perf_counter()
        package.close()
    _, peak = tracemalloc.get_traced_memory()
    server.shutdown()

    accepted = sum(1 for s in statuses if s.status.code == 200)
    total = listed - began
    print(f"invoices                     {args.invoices:>10,}")
    print(
        f"package (ZIP)                {package.file_size:>10,} B in {len(package.parts)} part(s)"
    )
    print(f"build + encrypt              {built - began:>10.2f} s")
    print(f"open + upload + close        {uploaded - built:>10.2f} s  (incl. 1st chunk)")
    print(
        f"processing (server, polled)  {processed - uploaded:>10.2f} s  status {status.status.code}"
    )
    print(f"list statuses (paged)        {listed - processed:>10.2f} s")
    print(
        f"total                        {total:>10.2f} s  ({args.invoices / total:,.0f} invoices/s)"
    )
    print(f"accepted with a KSeF number  {accepted:>10,}")
    print(f"heap peak (both sides)            {peak / 1e6:>10.1f} MB")


if __name__ == "__main__":
    main()

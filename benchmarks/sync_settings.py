"""Django settings of the sync benchmarks: the portal's settings as a worker runs them.

DEBUG stays off, as on a production worker: with it on, Django keeps the SQL of the last
9,000 queries in memory, bulk INSERTs of invoice XML included, which would be measured as
the engine's memory and CPU. The rate-limit counters go to a file of their own per run
unless KSEF_RATE_LIMIT_URL names a server (redis://...).
"""

import atexit
import os
import shutil
import tempfile

os.environ.setdefault("SECRET_KEY", "insecure-key-for-benchmarks-only")
os.environ.setdefault("CRYPTOGRAPHY_KEY", "insecure-cryptography-key-for-benchmarks-only")
os.environ.setdefault("EMAIL_URL", "memorymail://")

from portal.settings import *  # noqa: F403

DEBUG = False
if "KSEF_RATE_LIMIT_URL" not in os.environ:
    _rate_limits_dir = tempfile.mkdtemp(prefix="bench-rate-limits-")
    atexit.register(shutil.rmtree, _rate_limits_dir, ignore_errors=True)
    KSEF_RATE_LIMIT_URL = f"sqlite:///{_rate_limits_dir}/limits.sqlite3"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = True

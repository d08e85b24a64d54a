"""Settings for the test suite: the real settings with test-friendly defaults.

Only defaults change here; DATABASE_URL and CELERY_BROKER_URL from the environment still
decide whether the suite runs on SQLite or on PostgreSQL + Redis.
"""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("SECRET_KEY", "insecure-key-for-tests-only")
os.environ.setdefault("CRYPTOGRAPHY_KEY", "insecure-cryptography-key-for-tests-only")
os.environ.setdefault("EMAIL_URL", "memorymail://")

from portal.settings import *  # noqa: F403

# Each test process counts KSeF calls in a file of its own, so that xdist workers (and
# test runs of other checkouts) never spend from one another's windows. The store creates
# it only when a test uses it; xdist workers end without running atexit, so instead a
# file left by a dead process that had this pid is removed before it could be reused.
if "KSEF_RATE_LIMIT_URL" not in os.environ:
    _rate_limits = Path(tempfile.gettempdir()) / f"ksef-rate-limits-{os.getpid()}.sqlite3"
    for _suffix in ("", "-wal", "-shm"):
        Path(f"{_rate_limits}{_suffix}").unlink(missing_ok=True)
    KSEF_RATE_LIMIT_URL = f"sqlite:///{_rate_limits}"

# Fast hashing: the suite creates many users; production keeps Django's default hashers.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# Tasks run inline unless a test starts a real worker against the configured broker.
CELERY_TASK_ALWAYS_EAGER = True
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Django's test client logs in without a request, which django-axes refuses; the
# throttling tests switch it on (tests/portal/test_throttling.py) with override_settings,
# and the process they spawn with AXES_ENABLED=true.
AXES_ENABLED = env_flag("AXES_ENABLED", default=False)  # noqa: F405

"""Locks shared by the threads of one process (a sweep's workers, the command line's worker)."""

import threading

LAPACK_LOCK = threading.Lock()
"""Held while a computation with LAPACK calls (eigh, svd, qr) runs: two threads running such
XLA CPU programs at once were seen to deadlock (a sweep's workers); the loops still overlap."""

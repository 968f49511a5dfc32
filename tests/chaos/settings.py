"""Settings of the chaos suite, from the environment.

CHAOS_DURATION  seconds of kills per backend (default 25; ``make chaos``: 300)
CHAOS_SEED      replay the kills and triggers of an earlier run (printed by every run)
CHAOS_WORKDIR   keep the runs' files (DAGs, records, logs, evidence.json) in this folder
                (otherwise they are kept in /tmp/tradewind-chaos-* only when an invariant failed)
"""

from __future__ import annotations

import os
import random

DURATION = float(os.environ.get("CHAOS_DURATION") or 25)
SETTLE_TIMEOUT = 120.0
#: Longest a whole run may take: start-up, kills, settling, stop, and the machine being busy.
RUN_TIMEOUT = DURATION + SETTLE_TIMEOUT + 240
SEED = int(os.environ.get("CHAOS_SEED") or random.SystemRandom().randrange(1, 1_000_000))
WORKDIR = os.environ.get("CHAOS_WORKDIR") or None

#: Invariants known not to hold yet, and why: their tests are marked xfail. Empty: every
#: invariant holds (a restarted scheduler adopts running tries, a graceful stop waits for them).
KNOWN_TO_FAIL: dict[str, str] = {}

"""How long the Hypothesis property and fuzz tests run.

Each such test runs a modest default number of examples so the suite stays fast;
``FUZZ_EXAMPLES=5000 pytest ...`` runs that many instead, with fresh random
examples (the defaults of the slow, real-inference tests are derandomized).
"""

from __future__ import annotations

import os


def fuzz_examples(default: int) -> int:
    """``FUZZ_EXAMPLES`` if set, else ``default``."""
    return int(os.environ.get("FUZZ_EXAMPLES", default))


def long_run() -> bool:
    """True when ``FUZZ_EXAMPLES`` asks for a longer run."""
    return "FUZZ_EXAMPLES" in os.environ

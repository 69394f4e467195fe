"""Run one action from many threads at the same moment (race tests against a served app)."""

import threading
from collections.abc import Callable


def all_at_once(count: int, action: Callable[[Callable[[], None]], object]) -> list:
    """Run `action(ready)` in `count` threads; each calls `ready()` once it is set up, and all
    go on from there together. Returns what the actions returned (in the order they ended);
    one that raised is left out, so a caller comparing the results sees it missing."""
    barrier = threading.Barrier(count)
    results: list = []
    lock = threading.Lock()

    def run():
        result = action(barrier.wait)
        with lock:
            results.append(result)

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return results

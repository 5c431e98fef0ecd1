"""Runs a test suite object's `test_*` methods in definition order (later
steps may use what earlier ones made), printing one line each and the
closing 'N passed, N failed' line CI reads."""

import traceback


def run_in_order(suite) -> tuple[int, int]:
    passed = failed = 0
    for name in [n for n in type(suite).__dict__ if n.startswith("test_")]:
        try:
            getattr(suite, name)()
            passed += 1
            print(f"ok      {name}")
        except Exception:  # noqa: BLE001 - report every failure
            failed += 1
            print(f"FAILED  {name}")
            traceback.print_exc()
    return passed, failed

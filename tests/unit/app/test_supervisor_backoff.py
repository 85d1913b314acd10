"""The supervisor's restart policy: exponential, capped, reset after a stable run, loud on a crash loop."""
from confide_app.supervisor import Backoff


def test_delays_double_from_base_up_to_the_cap():
    b = Backoff(base=1, factor=2, cap=10, stable_after=30)
    assert [b.exited(uptime=0.5) for _ in range(6)] == [1, 2, 4, 8, 10, 10]


def test_a_child_that_stayed_up_starts_again_from_base():
    b = Backoff(base=1, factor=2, cap=60, stable_after=30)
    for _ in range(4):
        b.exited(uptime=1)
    assert b.failures == 4
    assert b.exited(uptime=31) == 1
    assert b.failures == 1
    assert b.exited(uptime=2) == 2


def test_crash_loop_is_reported_after_n_quick_crashes_in_a_row_only():
    b = Backoff(loop_after=3, stable_after=30)
    b.exited(uptime=0.1)
    b.exited(uptime=0.1)
    assert not b.crash_loop
    b.exited(uptime=0.1)
    assert b.crash_loop
    b.exited(uptime=120)  # stayed up: no longer a loop
    assert not b.crash_loop

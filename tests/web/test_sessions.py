"""Sessions and login throttling on a clock the test moves (adapters/web/auth.py)."""

from __future__ import annotations

from adapters.web.auth import Sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def sessions(clock: Clock) -> Sessions:
    return Sessions("the-token-0123456789", lifetime=60, attempts=3, window=100, clock=clock)


def test_a_session_ends_after_its_lifetime_and_on_close() -> None:
    clock = Clock()
    s = sessions(clock)
    sid = s.open()
    found = s.get(sid)
    assert found is not None and len(found.csrf) >= 32
    assert s.get("forged") is None and s.get(None) is None
    clock.now += 59
    assert s.get(sid) is not None
    clock.now += 2
    assert s.get(sid) is None
    other = s.open()
    s.close(other)
    assert s.get(other) is None


def test_failed_logins_lock_one_address_for_the_window() -> None:
    clock = Clock()
    s = sessions(clock)
    for _ in range(3):
        assert not s.throttled("10.0.0.1")
        s.failed("10.0.0.1")
    assert s.throttled("10.0.0.1")
    assert not s.throttled("10.0.0.2")  # another address is not punished
    clock.now += 101
    assert not s.throttled("10.0.0.1")  # the window passed
    s.failed("10.0.0.2")
    s.succeeded("10.0.0.2")
    s.failed("10.0.0.2")
    s.failed("10.0.0.2")
    assert not s.throttled("10.0.0.2")  # a success starts the count again


def test_the_token_must_match_exactly() -> None:
    s = sessions(Clock())
    assert s.check_token("the-token-0123456789")
    assert not s.check_token("the-token-012345678")
    assert not s.check_token("the-token-01234567890")
    assert not s.check_token("")

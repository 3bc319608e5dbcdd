from __future__ import annotations

import pytest
from telegram.error import BadRequest, Forbidden, NetworkError, RetryAfter, TimedOut

import bot.handlers
from bot.handlers import FloodGuard, with_retries


def test_flood_guard_warns_once_then_drops_then_recovers() -> None:
    now = [0.0]
    guard = FloodGuard(limit=3, window=60, clock=lambda: now[0])
    assert [guard.check(1) for _ in range(3)] == ["ok", "ok", "ok"]
    assert [guard.check(1) for _ in range(3)] == ["warn", "drop", "drop"]
    assert guard.check(2) == "ok"  # others are not slowed
    now[0] = 61.0
    assert guard.check(1) == "ok"
    now[0] = 200.0
    guard.forget_idle()
    assert guard._seen == {} and guard._warned == {}


@pytest.fixture(autouse=True)
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    slept: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        slept.append(seconds)

    monkeypatch.setattr(bot.handlers.asyncio, "sleep", fake_sleep)
    return slept


def flaky(*errors: Exception):  # type: ignore[no-untyped-def]
    calls = []

    async def call() -> str:
        calls.append(1)
        if len(calls) <= len(errors):
            raise errors[len(calls) - 1]
        return "sent"

    call.calls = calls  # type: ignore[attr-defined]
    return call


async def test_429_is_waited_out(no_sleep: list[float]) -> None:
    call = flaky(RetryAfter(3))
    assert await with_retries(call, what="x") == "sent"
    assert no_sleep == [3.0]


async def test_network_errors_and_5xx_back_off(no_sleep: list[float]) -> None:
    call = flaky(TimedOut(), NetworkError("Bad Gateway"))
    assert await with_retries(call, what="x") == "sent"
    assert no_sleep == [0.5, 1.0]


async def test_retries_are_bounded(no_sleep: list[float]) -> None:
    call = flaky(*[NetworkError("Internal Server Error")] * 10)
    with pytest.raises(NetworkError):
        await with_retries(call, what="x")
    assert len(call.calls) == 4


@pytest.mark.parametrize(
    "error", [Forbidden("bot was blocked by the user"), BadRequest("chat not found")]
)
async def test_final_errors_are_never_retried(error: Exception, no_sleep: list[float]) -> None:
    call = flaky(error)
    with pytest.raises(type(error)):
        await with_retries(call, what="x")
    assert len(call.calls) == 1 and no_sleep == []


def test_flood_guard_forgets_quiet_users_by_itself() -> None:
    now = [0.0]
    guard = FloodGuard(limit=3, window=60, clock=lambda: now[0])
    for user in range(100):
        guard.check(user)
    now[0] = 121.0
    assert guard.check(1000) == "ok"  # the first check of a new window cleans up
    assert set(guard._seen) == {1000}

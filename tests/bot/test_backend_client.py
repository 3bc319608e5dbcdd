from __future__ import annotations

import json

import httpx
import pytest

from bot.backend import Backend, BackendRejected, BackendUnavailable, Button


def client(handler: httpx.MockTransport) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=handler, base_url="http://backend")


async def test_send_event_posts_and_parses_the_replies() -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "replies": [
                    {
                        "text": "Hi",
                        "buttons": [[{"label": "Menu", "data": "g.menu", "url": None}]],
                        "contact_request": None,
                    }
                ],
                "state": {"lang": "ky", "node": "main:menu", "country": None},
                "content_version": 3,
                "revision": 7,
            },
        )

    async with client(httpx.MockTransport(handle)) as c:
        result = await Backend(c, token="secret").send_event(42, {"type": "text", "text": "x"})
    assert result.lang == "ky"
    assert result.replies[0].buttons == [[Button("Menu", "g.menu", None)]]
    assert seen[0].url.path == "/v1/conversations/telegram/42/events"
    assert seen[0].headers["authorization"] == "Bearer secret"
    assert json.loads(seen[0].content) == {"type": "text", "text": "x"}


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(500, json={"error": {"code": "internal_error", "message": "x"}}),
        httpx.Response(503, text="busy"),
    ],
)
async def test_5xx_is_unavailable(response: httpx.Response) -> None:
    async with client(httpx.MockTransport(lambda _: response)) as c:
        with pytest.raises(BackendUnavailable):
            await Backend(c, token="t").send_event(1, {"type": "start"})


async def test_connection_errors_are_unavailable() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    async with client(httpx.MockTransport(refuse)) as c:
        with pytest.raises(BackendUnavailable, match="ConnectError"):
            await Backend(c, token="t").send_event(1, {"type": "start"})


async def test_4xx_is_rejected_with_the_backends_code() -> None:
    body = {"error": {"code": "invalid_request", "message": "the request is not valid"}}
    async with client(httpx.MockTransport(lambda _: httpx.Response(422, json=body))) as c:
        with pytest.raises(BackendRejected) as error:
            await Backend(c, token="t").send_event(1, {"type": "nonsense"})
    assert (error.value.status, error.value.code) == (422, "invalid_request")


async def test_reachability_of_an_unknown_user_is_not_an_error() -> None:
    body = {"error": {"code": "not_found", "message": "no conversation"}}
    async with client(httpx.MockTransport(lambda _: httpx.Response(404, json=body))) as c:
        await Backend(c, token="t").set_reachable(5, active=False)

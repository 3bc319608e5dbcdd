from __future__ import annotations

import asyncio
from typing import Any

import httpx
from fastapi import FastAPI
from sqlalchemy import select

from app.config import Settings
from app.main import create_app
from app.models import ConsularRequest, Conversation
from tests.conftest import SERVICE_TOKEN

URL = "/v1/conversations/telegram/{user}/events"


async def post(client: httpx.AsyncClient, user: str, **event: Any) -> dict[str, Any]:
    response = await client.post(URL.format(user=user), json=event)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def button(body: dict[str, Any], label: str) -> str:
    for reply in body["replies"]:
        for row in reply["buttons"]:
            for b in row:
                if b["label"].endswith(label):
                    return str(b["data"])
    raise AssertionError(f"no button {label!r}")


async def test_state_persists_across_requests(client: httpx.AsyncClient) -> None:
    body = await post(client, "42", type="start", language_hint="ru")
    assert body["state"] == {"lang": "ru", "node": None, "country": None}
    body = await post(client, "42", type="button", data="l.ru")
    body = await post(client, "42", type="button", data=button(body, "[ru] Continue"))
    body = await post(client, "42", type="button", data=button(body, "[ru] Kazakhstan"))
    assert body["state"] == {"lang": "ru", "node": "main:menu", "country": "kz"}
    assert body["revision"] == 4
    assert body["replies"][0]["text"] == "[ru] Main menu"
    # Another user is a separate conversation.
    other = await post(client, "43", type="start")
    assert other["state"]["lang"] == "ky" and other["revision"] == 1


async def test_concurrent_events_for_one_user_are_serialised(client: httpx.AsyncClient) -> None:
    await post(client, "7", type="start")
    await post(client, "7", type="button", data="l.en")
    results = await asyncio.gather(
        *[post(client, "7", type="command", name="help" if i % 2 else "menu") for i in range(30)]
    )
    assert sorted(r["revision"] for r in results) == list(range(3, 33))


async def test_two_processes_never_lose_an_update(app: FastAPI, settings: Settings) -> None:
    """Two app instances (as two API processes) on one database, racing on one user."""
    second = create_app(settings)
    async with second.router.lifespan_context(second):
        clients = [
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=a),
                base_url="http://jol",
                headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
            )
            for a in (app, second)
        ]
        try:
            await post(clients[0], "9", type="start")
            results = await asyncio.gather(
                *[post(clients[i % 2], "9", type="command", name="help") for i in range(20)]
            )
        finally:
            for c in clients:
                await c.aclose()
    assert sorted(r["revision"] for r in results) == list(range(2, 22))
    async with app.state.sessionmaker() as session:
        row = (
            await session.execute(select(Conversation).where(Conversation.user_id == "9"))
        ).scalar_one()
    assert row.revision == 21


async def test_campaign_and_consular_request_are_stored(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await post(client, "5", type="start", payload="osh-2026")
    body = await post(client, "5", type="button", data="l.ky")
    body = await post(client, "5", type="button", data=button(body, "[ky] Continue"))
    body = await post(client, "5", type="button", data=button(body, "[ky] Russia"))
    body = await post(client, "5", type="command", name="emergency")
    body = await post(
        client, "5", type="button", data=button(body, "[ky] Ask the consulate to call me")
    )
    body = await post(client, "5", type="button", data=button(body, "Өткөрүп жиберүү"))
    body = await post(client, "5", type="button", data=button(body, "Мени кармашты"))
    body = await post(client, "5", type="text", text="полиция")
    assert body["replies"][-1]["contact_request"] == "Телефон номеримди жөнөтүү"
    body = await post(client, "5", type="contact", phone="+7 999 123 45 67")
    await post(client, "5", type="button", data=button(body, "Ооба, жөнөтүү"))
    async with app.state.sessionmaker() as session:
        conversation = (await session.execute(select(Conversation))).scalar_one()
        request = (await session.execute(select(ConsularRequest))).scalar_one()
    assert (conversation.campaign, conversation.lang, conversation.country) == (
        "osh-2026",
        "ky",
        "ru",
    )
    assert (
        request.user_id,
        request.phone,
        request.country,
        request.lang,
        request.urgent,
        request.status,
    ) == ("5", "+79991234567", "ru", "ky", True, "new")


async def test_the_service_token_is_required(client: httpx.AsyncClient) -> None:
    url = URL.format(user="1")
    missing = await client.post(url, json={"type": "start"}, headers={"Authorization": ""})
    assert missing.status_code == 401
    assert missing.json()["error"]["code"] == "unauthorized"
    wrong = await client.post(
        url, json={"type": "start"}, headers={"Authorization": "Bearer not-the-token"}
    )
    assert wrong.status_code == 401
    assert wrong.json() == {
        "error": {"code": "unauthorized", "message": "invalid service token", "details": None}
    }


async def test_bad_events_get_a_clear_error(client: httpx.AsyncClient) -> None:
    url = URL.format(user="1")
    cases = [
        {"type": "teleport"},
        {"type": "text", "text": ""},
        {"type": "text", "text": "x" * 4097},
        {"type": "button", "data": "x" * 65},
        {"type": "language", "lang": "fr"},
        {"type": "start", "payload": "<script>"},
        {"type": "text", "text": "hi", "extra": 1},
    ]
    for event in cases:
        response = await client.post(url, json=event)
        assert response.status_code == 422, event
        assert response.json()["error"]["code"] == "invalid_request"
    not_json = await client.post(
        url, content=b"{nope", headers={"Content-Type": "application/json"}
    )
    assert not_json.status_code == 422
    bad_user = await client.post(URL.format(user="a b"), json={"type": "start"})
    assert bad_user.status_code == 422


async def test_without_published_content_the_api_says_so(settings: Settings) -> None:
    application = create_app(settings)
    async with (
        application.router.lifespan_context(application),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=application), base_url="http://jol"
        ) as c,
    ):
        response = await c.post(
            URL.format(user="1"),
            json={"type": "start"},
            headers={"Authorization": f"Bearer {SERVICE_TOKEN}"},
        )
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "content_unavailable"
        ready = await c.get("/readyz")
        assert ready.status_code == 503
        assert ready.json()["checks"]["database"] == "ok"


async def test_stop_unsubscribes_start_resubscribes_and_blocking_is_recorded(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def row() -> Conversation:
        async with app.state.sessionmaker() as session:
            return (
                await session.execute(select(Conversation).where(Conversation.user_id == "11"))
            ).scalar_one()

    await post(client, "11", type="start")
    await post(client, "11", type="button", data="l.ru")
    body = await post(client, "11", type="text", text="/stop")
    assert body["replies"][0]["text"].startswith("Вы больше не будете получать новости от Jol.")
    assert (await row()).subscribed is False
    blocked = await client.put(URL.format(user="11")[:-7] + "/reachability", json={"active": False})
    assert blocked.status_code == 204
    assert (await row()).active is False
    await post(client, "11", type="start")  # writing again: reachable and subscribed
    assert ((await row()).active, (await row()).subscribed) == (True, True)
    unknown = await client.put(URL.format(user="12")[:-7] + "/reachability", json={"active": False})
    assert unknown.status_code == 404


async def test_commands_are_described_per_language(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/ru/commands")).json()
    assert body["commands"][0] == {"command": "menu", "description": "Главное меню"}
    assert [c["command"] for c in body["commands"]] == [
        "menu",
        "sos",
        "language",
        "help",
        "request",
        "stop",
        "forget",
    ]


async def test_danger_typed_in_free_text_reaches_the_emergency_entry(
    client: httpx.AsyncClient,
) -> None:
    await post(client, "21", type="start")
    await post(client, "21", type="button", data="l.en")
    body = await post(client, "21", type="text", text="help me my boss took my passport")
    assert body["state"]["node"] == "sos:start"
    assert body["replies"][0]["text"] == "If you are in danger, call the police."


async def test_a_write_by_another_process_invalidates_the_cached_state(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    from sqlalchemy import update

    await post(client, "22", type="start")
    await post(client, "22", type="button", data="l.en")
    # Another process (here: the worker's retention job) rewrites the row behind our back.
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(Conversation)
            .where(Conversation.user_id == "22")
            .values(state={}, revision=Conversation.revision + 1)
        )
        await session.commit()
    body = await post(client, "22", type="command", name="help")
    # The cached state (language en) was not trusted: the user starts over with no language.
    assert body["state"]["lang"] == "ky" and body["revision"] == 4

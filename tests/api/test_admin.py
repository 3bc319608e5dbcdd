"""The admin API: keys, roles, country scope, the consular workflow, audit, personal data."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.routing import APIRoute
from sqlalchemy import String, cast, func, select, update

from app.admin.keys import create_key
from app.admin.router import router as admin_router
from app.answers.admin_router import router as gaps_router
from app.consular.router import router as consular_router
from app.consular.service import redact_closed
from app.models import (
    AdminKey,
    AuditEntry,
    Base,
    ConsularMessage,
    ConsularRequest,
    Conversation,
    OutboundMessage,
)
from app.models.base import utcnow
from tests.conftest import SERVICE_TOKEN

EVENTS = "/v1/conversations/telegram/{user}/events"


async def new_key(
    app: FastAPI, role: str, countries: list[str] | None = None, days: int = 30
) -> str:
    async with app.state.sessionmaker() as session:
        _, plain = await create_key(
            session, name=f"{role} {countries}", role=role, countries=countries or [], days=days
        )
        await session.commit()
    return plain


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def file_request(
    client: httpx.AsyncClient, user: str, destination: str = "[en] Russia", lang: str = "en"
) -> None:
    """A user goes through the real dialogue and files a request."""

    async def send(**event: Any) -> dict[str, Any]:
        response = await client.post(
            EVENTS.format(user=user), json=event, headers=auth(SERVICE_TOKEN)
        )
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    def press(body: dict[str, Any], label: str) -> str:
        return next(
            str(b["data"])
            for r in body["replies"]
            for row in r["buttons"]
            for b in row
            if b["label"].endswith(label)
        )

    prefix = "" if lang == "en" else f"[{lang}] "
    await send(type="start")
    body = await send(type="language", lang=lang)
    body = await send(type="button", data=press(body, f"{prefix}Continue"))
    body = await send(type="button", data=press(body, destination.replace("[en] ", prefix)))
    body = await send(type="command", name="emergency")
    body = await send(type="button", data=press(body, f"{prefix}Ask the consulate to call me"))
    body = await send(type="text", text="Kazan")
    body = await send(type="button", data=press(body, "I was detained"))
    body = await send(type="text", text="police took me and my friend Aibek")
    body = await send(type="contact", phone="+7 999 000 11 22")
    await send(type="button", data=press(body, "Yes, send it"))


# -- the role matrix ---------------------------------------------------------------------------

ADMIN_ROUTES = "/admin/"


def admin_routes(app: FastAPI) -> list[tuple[str, str, set[str]]]:
    """Every admin route the app serves (from its OpenAPI table) with the roles its guard
    allows; a served admin route without a declared guard fails the test."""
    guarded: dict[tuple[str, str], set[str]] = {}
    for router in (consular_router, admin_router, gaps_router):
        for route in router.routes:
            assert isinstance(route, APIRoute)
            guards = [
                d.dependency for d in route.dependencies if hasattr(d.dependency, "allowed_roles")
            ]
            assert len(guards) == 1, f"{route.path} declares no role"
            for method in route.methods:
                guarded[(method, route.path)] = set(guards[0].allowed_roles)  # type: ignore
    served = [
        (method.upper(), path)
        for path, item in app.openapi()["paths"].items()
        if path.startswith(ADMIN_ROUTES)
        for method in item
    ]
    assert sorted(served) == sorted(guarded), "an admin route outside the guarded routers"
    return [(method, path, guarded[(method, path)]) for method, path in served]


def example_request(method: str, path: str, request_id: int) -> dict[str, Any]:
    url = path.replace("{request_id}", str(request_id)).replace("{key_id}", "999999")
    bodies = {
        "/assign": {"assignee": "me"},
        "/status": {"status": "in_progress"},
        "/notes": {"text": "note"},
        "/replies": {"text": "hello"},
        "/keys": {"name": "x", "role": "editor"},
    }
    body = next((b for suffix, b in bodies.items() if url.endswith(suffix)), None)
    return {"method": method, "url": url, "json": body}


async def test_every_admin_route_enforces_its_role_and_scope(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await file_request(client, "701")  # a request for Russia
    async with app.state.sessionmaker() as session:
        request_id = (await session.execute(select(ConsularRequest.id))).scalar_one()
    keys = {
        role: await new_key(app, role, ["ru"] if role == "consular" else None)
        for role in ("admin", "editor", "campaign", "consular")
    }
    other_country = await new_key(app, "consular", ["kz"])
    routes = admin_routes(app)
    assert len(routes) >= 10
    policy = {
        "/admin/v1/consular/": {"consular", "admin"},
        "/admin/v1/keys": {"admin"},
        "/admin/v1/audit": {"admin"},
        "/admin/v1/content/": {"editor", "admin"},
    }
    for method, path, allowed in routes:
        expected = next(roles for prefix, roles in policy.items() if path.startswith(prefix))
        assert allowed == expected, f"{method} {path} allows {allowed}, policy says {expected}"
    for method, path, allowed in routes:
        request = example_request(method, path, request_id)
        anonymous = await client.request(**request, headers={"Authorization": ""})
        assert anonymous.status_code == 401, (method, path)
        assert anonymous.json()["error"]["code"] == "unauthorized"
        for role, key in keys.items():
            response = await client.request(**request, headers=auth(key))
            if role in allowed:
                assert response.status_code < 400 or response.status_code in (404, 409), (
                    method,
                    path,
                    role,
                    response.text,
                )
            else:
                assert response.status_code == 403, (method, path, role)
                assert response.json()["error"]["code"] == "forbidden"
        if "{request_id}" in path:
            response = await client.request(**request, headers=auth(other_country))
            assert response.status_code == 403, (method, path, "out of scope")


async def test_keys_expire_are_revoked_and_never_logged(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    admin = await new_key(app, "admin")
    caplog.set_level(logging.DEBUG)
    created = await client.post(
        "/admin/v1/keys",
        json={"name": "Consul, Kazan", "role": "consular", "countries": ["ru"]},
        headers=auth(admin),
    )
    assert created.status_code == 201
    consul = created.json()["key"]
    assert re.fullmatch(r"jol_[0-9a-f]{12}_[A-Za-z0-9_-]{43}", consul)
    assert (
        await client.get("/admin/v1/consular/requests", headers=auth(consul))
    ).status_code == 200
    listed = (await client.get("/admin/v1/keys", headers=auth(admin))).json()
    assert all("key" not in k and "secret_hash" not in k for k in listed)
    revoked = await client.delete(f"/admin/v1/keys/{created.json()['id']}", headers=auth(admin))
    assert revoked.status_code == 204
    after = await client.get("/admin/v1/consular/requests", headers=auth(consul))
    assert after.status_code == 401
    # A wrong secret with a real prefix is as unknown as a made-up key.
    assert (await client.get("/admin/v1/keys", headers=auth(admin[:-2] + "xx"))).status_code == 401
    expired = await new_key(app, "admin", days=1)
    async with app.state.sessionmaker() as session:
        await session.execute(
            update(AdminKey)
            .where(AdminKey.role == "admin")
            .values(expires_at=utcnow() - dt.timedelta(seconds=1))
        )
        await session.commit()
    assert (await client.get("/admin/v1/keys", headers=auth(expired))).status_code == 401
    for key in (admin, consul, expired):
        assert key not in caplog.text
        assert key.split("_", 2)[2] not in caplog.text
    async with app.state.sessionmaker() as session:
        stored = (await session.execute(select(AdminKey.secret_hash))).scalars().all()
    assert consul.split("_", 2)[2] not in stored


# -- the consular officer's day ------------------------------------------------------------------


async def test_a_consul_works_a_request_and_the_user_answers(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await file_request(client, "702")
    consul = await new_key(app, "consular", ["ru"])
    queue = (
        await client.get(
            "/admin/v1/consular/requests", params={"status": "new"}, headers=auth(consul)
        )
    ).json()["requests"]
    assert len(queue) == 1
    summary = queue[0]
    assert (summary["country"], summary["urgent"], summary["category"], summary["lang"]) == (
        "ru",
        True,
        "detained",
        "en",
    )
    assert "phone" not in summary  # the queue shows no personal data
    request_id = summary["id"]
    url = f"/admin/v1/consular/requests/{request_id}"

    detail = (await client.get(url, headers=auth(consul))).json()
    assert (detail["phone"], detail["city"], detail["description"]) == (
        "+79990001122",
        "Kazan",
        "police took me and my friend Aibek",
    )
    assert (
        await client.post(f"{url}/assign", json={"assignee": "A. Sakeeva"}, headers=auth(consul))
    ).json()["assignee"] == "A. Sakeeva"
    assert (
        await client.post(f"{url}/status", json={"status": "in_progress"}, headers=auth(consul))
    ).json()["status"] == "in_progress"
    note = await client.post(
        f"{url}/notes", json={"text": "called the police station"}, headers=auth(consul)
    )
    assert note.status_code == 201 and note.json()["author"] == "note"
    reply = await client.post(
        f"{url}/replies", json={"text": "We called the police. Stay calm."}, headers=auth(consul)
    )
    assert reply.status_code == 201

    async with app.state.sessionmaker() as session:
        outbound = (await session.execute(select(OutboundMessage))).scalars().all()
    assert [(o.chat_id, o.status) for o in outbound] == [("702", "pending")]
    assert outbound[0].text == (
        f"**Reply from the consulate** (request #{request_id}):\n\nWe called the police. Stay calm."
    )
    assert outbound[0].buttons[0][0]["data"] == f"r.{request_id}"

    # The user answers with the button of the delivered message.
    answer = await client.post(
        EVENTS.format(user="702"),
        json={"type": "button", "data": f"r.{request_id}"},
        headers=auth(SERVICE_TOKEN),
    )
    assert answer.json()["replies"][0]["text"] == "Write your message to the consulate:"
    await client.post(
        EVENTS.format(user="702"),
        json={"type": "text", "text": "Thank you!"},
        headers=auth(SERVICE_TOKEN),
    )
    detail = (await client.get(url, headers=auth(consul))).json()
    assert [(m["author"], m["text"]) for m in detail["thread"]] == [
        ("note", "called the police station"),
        ("staff", "We called the police. Stay calm."),
        ("user", "Thank you!"),
    ]
    assert detail["status"] == "in_progress"  # the user wrote back after the answer

    # Transitions are checked.
    bad = await client.post(f"{url}/status", json={"status": "new"}, headers=auth(consul))
    assert bad.status_code == 422
    assert (
        await client.post(f"{url}/status", json={"status": "closed"}, headers=auth(consul))
    ).json()["status"] == "closed"
    again = await client.post(f"{url}/status", json={"status": "in_progress"}, headers=auth(consul))
    assert again.status_code == 409 and again.json()["error"]["details"] == {"allowed": []}
    late = await client.post(f"{url}/replies", json={"text": "x"}, headers=auth(consul))
    assert late.status_code == 409

    # The audit log holds who did what, and no personal data.
    admin = await new_key(app, "admin")
    entries = (await client.get("/admin/v1/audit", headers=auth(admin))).json()
    actions = [e["action"] for e in reversed(entries)]
    for action in (
        "consular.request.filed",
        "consular.requests.listed",
        "consular.request.read",
        "consular.request.assigned",
        "consular.request.status",
        "consular.note.added",
        "consular.reply.sent",
        "consular.message.from_user",
    ):
        assert action in actions
    text = str(entries)
    assert "+79990001122" not in text and "Kazan" not in text and "Aibek" not in text


async def test_a_consul_for_another_country_sees_nothing(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await file_request(client, "703")
    kazakhstan = await new_key(app, "consular", ["kz"])
    assert (await client.get("/admin/v1/consular/requests", headers=auth(kazakhstan))).json() == {
        "requests": []
    }
    forbidden = await client.get(
        "/admin/v1/consular/requests", params={"country": "ru"}, headers=auth(kazakhstan)
    )
    assert forbidden.status_code == 403


async def test_the_user_sees_and_cancels_a_request(app: FastAPI, client: httpx.AsyncClient) -> None:
    await file_request(client, "704")
    status = (
        await client.post(
            EVENTS.format(user="704"),
            json={"type": "command", "name": "requests"},
            headers=auth(SERVICE_TOKEN),
        )
    ).json()
    text = status["replies"][0]["text"]
    request_id = int(re.search(r"#(\d+)", text)[1])  # type: ignore[index]
    assert text == f"Request #{request_id} (Russia): received"
    await client.post(
        EVENTS.format(user="704"),
        json={"type": "button", "data": f"q.{request_id}"},
        headers=auth(SERVICE_TOKEN),
    )
    async with app.state.sessionmaker() as session:
        request = await session.get(ConsularRequest, request_id)
    assert request is not None and request.status == "cancelled"
    # Another user cannot cancel it (and it is not theirs to see).
    other = (
        await client.post(
            EVENTS.format(user="705"),
            json={"type": "button", "data": f"q.{request_id}"},
            headers=auth(SERVICE_TOKEN),
        )
    ).json()
    assert "cancelled" not in str(other)


# -- personal data -------------------------------------------------------------------------------


async def personal_traces(app: FastAPI, needles: list[str]) -> list[str]:
    """Every table.column whose text holds one of the needles, across every table."""
    found = []
    async with app.state.sessionmaker() as session:
        for table in Base.metadata.sorted_tables:
            for column in table.columns:
                for needle in needles:
                    count = (
                        await session.execute(
                            select(func.count())
                            .select_from(table)
                            .where(cast(column, String).contains(needle))
                        )
                    ).scalar_one()
                    if count:
                        found.append(f"{table.name}.{column.name} holds {needle!r}")
    return found


async def test_forget_erases_everything_personal(app: FastAPI, client: httpx.AsyncClient) -> None:
    await file_request(client, "706123")
    consul = await new_key(app, "consular", ["ru"])
    async with app.state.sessionmaker() as session:
        request_id = (await session.execute(select(ConsularRequest.id))).scalar_one()
    await client.post(
        f"/admin/v1/consular/requests/{request_id}/replies",
        json={"text": "Which police station, Aibek?"},
        headers=auth(consul),
    )
    needles = ["706123", "+79990001122", "Kazan", "Aibek"]
    assert await personal_traces(app, needles) != []

    body = (
        await client.post(
            EVENTS.format(user="706123"),
            json={"type": "command", "name": "forget"},
            headers=auth(SERVICE_TOKEN),
        )
    ).json()
    yes = next(
        b["data"]
        for r in body["replies"]
        for row in r["buttons"]
        for b in row
        if b["label"] == "Yes, erase everything"
    )
    done = (
        await client.post(
            EVENTS.format(user="706123"),
            json={"type": "button", "data": yes},
            headers=auth(SERVICE_TOKEN),
        )
    ).json()
    assert done["replies"][0]["text"].startswith("Done: Jol has forgotten you.")

    assert await personal_traces(app, needles) == []
    async with app.state.sessionmaker() as session:
        request = await session.get(ConsularRequest, request_id)
        assert request is not None
        # The case record stays for the consulate, anonymous.
        assert (request.user_id, request.phone, request.status, request.country) == (
            "forgotten",
            None,
            "cancelled",
            "ru",
        )
        assert (await session.execute(select(Conversation))).scalars().all() == []
    # The scan covered every table there is: a new table joins it by itself.
    assert {t.name for t in Base.metadata.sorted_tables} == {
        "conversations",
        "consular_requests",
        "consular_messages",
        "outbound_messages",
        "audit_log",
        "unanswered_questions",
        "admin_keys",
        "content_versions",
    }


async def test_closed_requests_are_redacted_after_the_retention(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    await file_request(client, "707")
    await file_request(client, "708")
    async with app.state.sessionmaker() as session:
        old, recent = (
            (await session.execute(select(ConsularRequest).order_by(ConsularRequest.id)))
            .scalars()
            .all()
        )
        for request, days in ((old, 40), (recent, 5)):
            request.status = "closed"
            request.closed_at = utcnow() - dt.timedelta(days=days)
        session.add(ConsularMessage(request_id=old.id, author="user", text="my address is X"))
        await session.commit()
        assert await redact_closed(session, retention_days=30) == 1
        await session.commit()
        old_row = await session.get(ConsularRequest, old.id)
        recent_row = await session.get(ConsularRequest, recent.id)
        assert old_row is not None and recent_row is not None
        await session.refresh(old_row)
        assert (old_row.phone, old_row.city, old_row.description, old_row.user_id) == (
            None,
            None,
            None,
            "redacted",
        )
        assert recent_row.phone == "+79990001122"
        texts = (
            (
                await session.execute(
                    select(ConsularMessage.text).where(ConsularMessage.request_id == old.id)
                )
            )
            .scalars()
            .all()
        )
        assert texts == ["[redacted]"]
        assert (
            (
                await session.execute(
                    select(AuditEntry).where(AuditEntry.action == "consular.requests.redacted")
                )
            )
            .scalars()
            .all()
        )


async def test_urgent_requests_notify_the_staff_chat_without_personal_data(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    app.state.settings.staff_chat_id = "-100123"
    try:
        await file_request(client, "709")
    finally:
        app.state.settings.staff_chat_id = None
    async with app.state.sessionmaker() as session:
        notices = (
            (
                await session.execute(
                    select(OutboundMessage).where(OutboundMessage.chat_id == "-100123")
                )
            )
            .scalars()
            .all()
        )
    assert len(notices) == 1
    text = notices[0].text
    assert text.startswith("**New urgent consular request #") and "(RU)" in text
    for personal in ("709", "+7999", "Kazan", "Aibek"):
        assert personal not in text


async def test_unanswered_questions_make_the_content_gap_report(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    async def ask(user: str, text: str) -> dict[str, Any]:
        response = await client.post(
            EVENTS.format(user=user),
            json={"type": "text", "text": text},
            headers=auth(SERVICE_TOKEN),
        )
        body: dict[str, Any] = response.json()
        return body

    for user in ("801", "802"):
        await client.post(
            EVENTS.format(user=user), json={"type": "start"}, headers=auth(SERVICE_TOKEN)
        )
        await client.post(
            EVENTS.format(user=user),
            json={"type": "language", "lang": "en"},
            headers=auth(SERVICE_TOKEN),
        )
    first = await ask("801", "Xyzzy plugh? +7 999 123 45 67")
    assert first["replies"][0]["text"].startswith(("I am not sure", "Sorry, I did not"))
    labels = [b["label"] for r in first["replies"] for row in r["buttons"] for b in row]
    assert "Ask the consulate" in labels
    await ask("802", "xyzzy   plugh? +7 999 123 45 67")
    await ask("802", "what documents do I need")  # answered: not a gap
    await ask("802", "Hello!")  # a greeting: no answer, and not a gap either
    editor = await new_key(app, "editor")
    gaps = (await client.get("/admin/v1/content/gaps", headers=auth(editor))).json()
    assert [(g["text"], g["lang"], g["count"]) for g in gaps] == [("xyzzy plugh? #", "en", 2)]
    assert await personal_traces(app, ["999 123", "9991234567"]) == []

from __future__ import annotations

import httpx


async def test_languages(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/languages")
    assert response.status_code == 200
    assert response.json() == {
        "languages": [
            {"code": "ky", "name": "Кыргызча", "default": True},
            {"code": "ru", "name": "Русский", "default": False},
            {"code": "en", "name": "English", "default": False},
        ]
    }


async def test_topics_answer_in_the_requested_language(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/ky/topics")).json()
    assert body["lang"] == "ky"
    assert body["topics"] == [
        {
            "id": "basics",
            "title": "[ky] Before you go",
            "summary": "[ky] What to prepare",
            "articles": [
                {"id": "documents", "title": "[ky] Documents"},
                {"id": "never-pay", "title": "[ky] Never pay for a job"},
            ],
        }
    ]


async def test_article_with_sources_and_review_date(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/ru/articles/never-pay")).json()
    assert body["title"] == "[ru] Never pay for a job"
    assert body["countries"] == ["ru", "kz"]
    assert body["sources"] == [
        {"title": "[ru] ILO", "url": "https://www.ilo.org", "accessed": "2026-11-01"}
    ]
    assert body["reviewed"] == "2026-11-20"
    assert body["topic"] == "basics" and body["untranslated"] is False


async def test_tree_outline(client: httpx.AsyncClient) -> None:
    body = (await client.get("/v1/en/trees/quiz")).json()
    assert body["start"] == "q1"
    assert body["nodes"][0] == {
        "id": "q1",
        "type": "question",
        "text": "Do they ask you to pay?",
        "options": [{"label": "Yes", "goto": "quiz:q2"}, {"label": "No", "goto": "quiz:q2"}],
        "quiz": "offer",
        "weights": [2, 0],
    }
    assert body["nodes"][2]["bands"][2] == {"min": 4, "max": 5, "text": "High risk"}


async def test_contacts_filter_by_country_and_city(client: httpx.AsyncClient) -> None:
    everyone = (await client.get("/v1/en/contacts")).json()["contacts"]
    assert [c["id"] for c in everyone] == ["embassy-ru", "consulate-kz", "center-kg"]
    russia = (await client.get("/v1/en/contacts", params={"country": "RU"})).json()["contacts"]
    assert [c["id"] for c in russia] == ["embassy-ru", "center-kg"]
    almaty = (
        await client.get("/v1/en/contacts", params={"country": "kz", "city": "almaty"})
    ).json()["contacts"]
    assert [c["id"] for c in almaty] == ["consulate-kz"]
    assert almaty[0]["unverified"] == ["address", "phones"] and almaty[0]["phones"] == []


async def test_etag_and_cache_control(client: httpx.AsyncClient) -> None:
    first = await client.get("/v1/ky/topics")
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=60"
    again = await client.get("/v1/ky/topics", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b""
    changed = await client.get("/v1/ky/topics", headers={"If-None-Match": '"v0-other"'})
    assert changed.status_code == 200


async def test_unknown_things_are_404_with_a_code(client: httpx.AsyncClient) -> None:
    lang = await client.get("/v1/fr/topics")
    assert lang.status_code == 404
    assert lang.json()["error"]["code"] == "unknown_language"
    assert lang.json()["error"]["details"] == {"languages": ["ky", "ru", "en"]}
    article = await client.get("/v1/ky/articles/nope")
    assert article.json()["error"] == {
        "code": "not_found",
        "message": "no article 'nope'",
        "details": None,
    }
    route = await client.get("/v2/anything")
    assert route.status_code == 404 and route.json()["error"]["code"] == "not_found"
    method = await client.delete("/v1/languages")
    assert method.status_code == 405 and method.json()["error"]["code"] == "method_not_allowed"
    bad_query = await client.get("/v1/ky/contacts", params={"country": "Russia"})
    assert bad_query.status_code == 422


async def test_health_readiness_and_docs(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200 and ready.json()["status"] == "ready"
    assert (await client.get("/docs")).status_code == 200
    ops = {
        op["operationId"]
        for path in (await client.get("/openapi.json")).json()["paths"].values()
        for op in path.values()
    }
    assert {"post_conversation_event", "list_topics", "get_article", "list_contacts"} <= ops


async def test_ask_answers_in_the_requested_or_detected_language(
    client: httpx.AsyncClient,
) -> None:
    body = (
        await client.post("/v1/ask", json={"text": "какие документы нужны", "lang": "ky"})
    ).json()
    assert body["lang"] == "ky" and body["emergency"] is False
    assert body["answers"][0]["id"] == "documents"
    assert body["answers"][0]["title"] == "[ky] Documents"
    detected = (await client.post("/v1/ask", json={"text": "какие документы нужны"})).json()
    assert detected["lang"] == "ru" and detected["answers"][0]["title"] == "[ru] Documents"
    danger = (await client.post("/v1/ask", json={"text": "help me they took my passport"})).json()
    assert danger["emergency"] is True
    nothing = (await client.post("/v1/ask", json={"text": "zzz qqq"})).json()
    assert nothing["answers"] == []
    bad = await client.post("/v1/ask", json={"text": "", "lang": "fr"})
    assert bad.status_code == 422 and bad.json()["error"]["code"] == "invalid_request"

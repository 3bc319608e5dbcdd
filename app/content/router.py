"""The public, read-only content API: every response in the requested language, fallbacks applied.

Responses carry an ETag of the published version: clients send If-None-Match and get 304.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request, Response
from fastapi.responses import JSONResponse

from app.content.model import Content, LanguageContent
from app.content.schema import LANGUAGES, ArticleNode, ContactsNode, QuestionNode, VerdictNode
from app.deps import ContentDep, SettingsDep
from app.dialogue.frontend import localized_commands
from app.errors import NotFound, UnknownLanguage

router = APIRouter(prefix="/v1", tags=["content"])
CACHE_CONTROL = "public, max-age=60"
LangPath = Annotated[str, Path(max_length=8, description="ky, ru or en")]
IdPath = Annotated[str, Path(max_length=64)]


def _lang(content: Content, lang: str) -> LanguageContent:
    if lang not in content.languages:
        raise UnknownLanguage(
            f"unknown language {lang!r}", details={"languages": list(content.languages)}
        )
    return content.languages[lang]


def _cached(request: Request, content: Content, body: Any) -> Response:
    etag = f'"v{content.version}-{content.checksum[:16]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    return JSONResponse(body, headers=headers)


@router.get("/languages", operation_id="list_languages")
async def list_languages(request: Request, content: ContentDep, settings: SettingsDep) -> Response:
    """List the languages of the content."""
    return _cached(
        request,
        content,
        {
            "languages": [
                {
                    "code": code,
                    "name": content.languages[code].name,
                    "default": code == settings.default_language,
                }
                for code in LANGUAGES
                if code in content.languages
            ]
        },
    )


@router.get("/{lang}/topics", operation_id="list_topics")
async def list_topics(request: Request, content: ContentDep, lang: LangPath) -> Response:
    """List the topics and their articles."""
    lc = _lang(content, lang)
    return _cached(
        request,
        content,
        {
            "lang": lang,
            "content_version": content.version,
            "topics": [
                {
                    "id": t.id,
                    "title": t.title,
                    "summary": t.summary,
                    "articles": [{"id": a.id, "title": a.title} for a in t.articles],
                }
                for t in lc.topics.values()
            ],
        },
    )


@router.get("/{lang}/articles/{article_id}", operation_id="get_article")
async def get_article(
    request: Request, content: ContentDep, lang: LangPath, article_id: IdPath
) -> Response:
    """Read one article with its sources and review date."""
    lc = _lang(content, lang)
    article = lc.articles.get(article_id)
    if article is None:
        raise NotFound(f"no article {article_id!r}")
    body = article.model_dump(mode="json")
    body.update(
        lang=lang,
        topic=lc.article_topic[article_id],
        untranslated=article_id in lc.untranslated,
        content_version=content.version,
    )
    return _cached(request, content, body)


@router.get("/{lang}/trees/{tree_id}", operation_id="get_tree_outline")
async def get_tree(
    request: Request, content: ContentDep, lang: LangPath, tree_id: IdPath
) -> Response:
    """Outline a dialogue tree: its nodes and where each option leads."""
    lc = _lang(content, lang)
    tree = lc.trees.get(tree_id)
    if tree is None:
        raise NotFound(f"no tree {tree_id!r}")
    nodes = []
    for node in tree.nodes:
        item: dict[str, Any] = {"id": node.id, "type": node.type}
        if isinstance(node, ArticleNode):
            item["article"] = node.article
        else:
            item["text"] = node.text
        choices = node.answers if isinstance(node, QuestionNode) else node.options
        item["options"] = [
            {"label": o.label, "goto": ":".join(lc.resolve(o.goto, tree.id) or ())} for o in choices
        ]
        if isinstance(node, QuestionNode):
            item["quiz"] = node.quiz
            item["weights"] = [a.weight for a in node.answers]
        if isinstance(node, VerdictNode):
            item["bands"] = [b.model_dump() for b in node.bands]
        if isinstance(node, ContactsNode) and node.country:
            item["country"] = node.country
        nodes.append(item)
    return _cached(
        request,
        content,
        {"lang": lang, "id": tree.id, "title": tree.title, "start": tree.start, "nodes": nodes},
    )


@router.get("/{lang}/contacts", operation_id="list_contacts")
async def list_contacts(
    request: Request,
    content: ContentDep,
    lang: LangPath,
    country: Annotated[str | None, Query(pattern=r"^[a-zA-Z]{2}$")] = None,
    city: Annotated[str | None, Query(max_length=100)] = None,
) -> Response:
    """List embassies, consulates and hotlines, optionally for one destination and city."""
    lc = _lang(content, lang)
    wanted = country.lower() if country else None
    found = [c for c in lc.contacts if wanted is None or c.country == wanted or wanted in c.serves]
    if city:
        found = [c for c in found if c.city and str(c.city).casefold() == city.casefold()]
    return _cached(
        request,
        content,
        {"lang": lang, "contacts": [c.model_dump(mode="json", exclude_none=True) for c in found]},
    )


@router.get("/{lang}/commands", operation_id="list_commands")
async def list_commands(request: Request, content: ContentDep, lang: LangPath) -> Response:
    """List the commands a front end offers, described in the language."""
    _lang(content, lang)
    return _cached(request, content, {"lang": lang, "commands": localized_commands(lang)})

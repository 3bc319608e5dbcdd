"""POST /v1/ask: question answering for any front end (the dialogue uses it for free text)."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter
from pydantic import BaseModel, Field

from app.answers.index import ask
from app.deps import StoreDep

router = APIRouter(prefix="/v1", tags=["answers"])


class AskIn(BaseModel):
    text: Annotated[str, Field(min_length=1, max_length=1000)]
    lang: Literal["ky", "ru", "en"] | None = None


class AnswerOut(BaseModel):
    id: str
    title: str
    text: str
    score: float


class AskOut(BaseModel):
    lang: str
    emergency: bool = Field(description="The text says the person is in danger now.")
    answers: list[AnswerOut]


@router.post("/ask", operation_id="ask")
async def post_ask(store: StoreDep, body: AskIn) -> AskOut:
    """Find the articles that answer a question, best first, in the given or detected language."""
    compiled = await store.compiled()
    content = compiled.content
    answer = ask(compiled.answerer, body.text, body.lang)
    lc = content.lang(answer.lang)
    return AskOut(
        lang=lc.lang,
        emergency=answer.emergency,
        answers=[
            AnswerOut(
                id=m.article_id,
                title=str(lc.articles[m.article_id].title),
                text=str(lc.articles[m.article_id].body),
                score=m.score,
            )
            for m in answer.matches
            if m.confident and m.article_id in lc.articles
        ],
    )

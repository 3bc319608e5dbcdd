"""The content gap report: questions people asked that found no confident answer."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.answers.index import has_a_word, readings
from app.models import UnansweredQuestion
from app.models.base import utcnow

TEXT_LIMIT = 300
_EMAIL = re.compile(r"\S+@\S+\.\S+")
_HANDLE = re.compile(r"@\w+")
_DIGITS = re.compile(r"\+?\d[\d\s()-]{2,}\d|\d{3,}")
_SPACES = re.compile(r"\s+")


def scrub(text: str) -> str:
    """The question without what would identify someone: numbers, e-mails, handles."""
    text = _EMAIL.sub("[e-mail]", text)
    text = _HANDLE.sub("[user]", text)
    text = _DIGITS.sub("#", text)
    return _SPACES.sub(" ", text).strip().lower()[:TEXT_LIMIT]


async def record_unanswered(session: AsyncSession, *, text: str, lang: str) -> None:
    """Count the question (scrubbed) once more, or store it for the first time."""
    clean = scrub(text)
    if not clean or not has_a_word(readings(clean)):  # "салам", "спасибо": not a question
        return
    counted = await session.execute(
        update(UnansweredQuestion)
        .where(UnansweredQuestion.lang == lang, UnansweredQuestion.text == clean)
        .values(count=UnansweredQuestion.count + 1, last_seen=utcnow())
        .execution_options(synchronize_session=False)
    )
    if not counted.rowcount:  # type: ignore[attr-defined]
        session.add(UnansweredQuestion(lang=lang, text=clean))


async def gap_report(
    session: AsyncSession, *, lang: str | None, limit: int
) -> Sequence[UnansweredQuestion]:
    query = select(UnansweredQuestion).order_by(
        UnansweredQuestion.count.desc(), UnansweredQuestion.last_seen.desc()
    )
    if lang:
        query = query.where(UnansweredQuestion.lang == lang)
    return (await session.execute(query.limit(limit))).scalars().all()

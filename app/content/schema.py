"""The content file format: pydantic models for the YAML under ``content/<lang>/``.

One language directory holds the whole content in that language; every language has the same
ids and the same structure (node types, targets, weights, countries), only the texts differ.
The validator (``app.content.validator``) checks what a schema cannot: references, reachability,
structure across languages, sources and review dates.

Files of a language directory:

* ``menu.yaml``        -- ``spec_version`` + ``language`` + ``menu`` (entry points of the dialogue)
* ``topics/*.yaml``    -- ``spec_version`` + ``topic`` (a topic with its articles)
* ``trees/*.yaml``     -- ``spec_version`` + ``tree`` (a dialogue tree: nodes and options)
* ``contacts.yaml``    -- ``spec_version`` + ``contacts`` (embassies, consulates, hotlines)

A translatable text may be replaced by the explicit fallback marker ``{fallback: ru}``: the text of
that language is shown instead, and the validator reports it as untranslated (a warning). A text
that is simply missing is an error.

Text markup (channel-neutral, rendered by each adapter): ``**bold**``, ``[label](https://url)``;
paragraphs are separated by a blank line.
"""

from __future__ import annotations

import datetime as dt
import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

SPEC_VERSION = 1
LANGUAGES: tuple[str, ...] = ("ky", "ru", "en")

ID_PATTERN = r"^[a-z0-9][a-z0-9-]{0,39}$"
Id = Annotated[str, StringConstraints(pattern=ID_PATTERN)]
# A node reference: "node" (same tree), "tree:node", or "tree:" (the tree's start node).
REF_PATTERN = r"^([a-z0-9][a-z0-9-]{0,39})?(:([a-z0-9][a-z0-9-]{0,39})?)?$"
Ref = Annotated[str, StringConstraints(pattern=REF_PATTERN, min_length=1)]
# ISO 3166-1 alpha-2, lower case (ru, kz, kr, tr, gb, kg, ...).
Country = Annotated[str, StringConstraints(pattern=r"^[a-z]{2}$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fallback(_Strict):
    """The explicit marker for a text not yet translated: show the text of ``fallback``."""

    fallback: Literal["ky", "ru", "en"]


Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)] | Fallback


class Source(_Strict):
    """Where a fact comes from."""

    title: Text
    url: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")]
    accessed: dt.date


class Article(_Strict):
    """One answer a migrant can read: short, sourced, reviewed."""

    id: Id
    title: Text
    body: Text
    tags: list[Annotated[str, StringConstraints(min_length=1)]] = Field(default_factory=list)
    questions: list[Text] = Field(
        default_factory=list, description="Example questions, written as people write them."
    )
    countries: list[Country] = Field(
        default_factory=list, description="Destinations it applies to; empty means every one."
    )
    sources: list[Source] = Field(default_factory=list)
    reviewed: dt.date | None = None


class Topic(_Strict):
    id: Id
    title: Text
    summary: Text
    articles: list[Article] = Field(min_length=1)


class Option(_Strict):
    """A button: a label and where it leads.

    ``set_country`` stores the user's destination country; ``unset`` forgets it.
    """

    label: Text
    goto: Ref
    set_country: Country | Literal["unset"] | None = None


class Answer(_Strict):
    """A quiz answer: its label, its weight added to the score, the next node."""

    label: Text
    weight: int = Field(ge=0, le=100)
    goto: Ref


class Band(_Strict):
    """A verdict for scores in ``[min, max]`` (inclusive)."""

    min: int = Field(ge=0)
    max: int = Field(ge=0)
    text: Text


class _NodeBase(_Strict):
    id: Id
    options: list[Option] = Field(default_factory=list)


class MessageNode(_NodeBase):
    type: Literal["message"]
    text: Text


class ArticleNode(_NodeBase):
    """Shows an article (its title, body and review date), then the options."""

    type: Literal["article"]
    article: Id


class ContactsNode(_NodeBase):
    """Shows the contact directory for the user's destination (or ``country`` when given)."""

    type: Literal["contacts"]
    text: Text
    country: Country | None = None
    kinds: list[Literal["embassy", "consulate", "hotline", "agency", "organisation"]] = Field(
        default_factory=list
    )


class QuestionNode(_Strict):
    """A quiz question; entering the first question of a quiz (``first: true``) resets the score."""

    type: Literal["question"]
    id: Id
    quiz: Id
    first: bool = False
    text: Text
    answers: list[Answer] = Field(min_length=2)


class VerdictNode(_NodeBase):
    """Ends a quiz: picks the band that holds the score."""

    type: Literal["verdict"]
    quiz: Id
    text: Text
    bands: list[Band] = Field(min_length=1)


class ActionNode(_NodeBase):
    """Triggers something outside the dialogue (the service carries it out)."""

    type: Literal["action"]
    action: Literal["request_consular_contact"]
    text: Text


Node = Annotated[
    MessageNode | ArticleNode | ContactsNode | QuestionNode | VerdictNode | ActionNode,
    Field(discriminator="type"),
]


class Tree(_Strict):
    id: Id
    title: Text
    start: Id
    nodes: list[Node] = Field(min_length=1)


class Menu(_Strict):
    """Entry points: where /start, /menu, /help and "I need help now" lead."""

    start: Ref = Field(description="First node for a new user, e.g. onboarding:welcome.")
    main: Ref = Field(description="The main menu.")
    help: Ref
    emergency: Ref = Field(description='"I need help now": reachable from everywhere.')


class Contact(_Strict):
    id: Id
    kind: Literal["embassy", "consulate", "hotline", "agency", "organisation"]
    name: Text
    country: Country = Field(description="Where the office is (kg for offices at home).")
    serves: list[Country] = Field(
        default_factory=list,
        description="Destinations whose users see it; an office's own country always does. "
        "Offices in Kyrgyzstan (kg) are shown to users who have not chosen a destination.",
    )
    city: Text | None = None
    address: Text | None = None
    phones: list[Annotated[str, StringConstraints(pattern=r"^\+?[0-9 ()-]{3,20}$")]] = Field(
        default_factory=list
    )
    email: str | None = None
    website: Annotated[str, StringConstraints(pattern=r"^https?://\S+$")] | None = None
    hours: Text | None = None
    note: Text | None = Field(None, description="What to use it for, e.g. 'registration only'.")
    languages: list[Literal["ky", "ru", "en", "tr", "ko", "kk"]] = Field(default_factory=list)
    unverified: list[Literal["address", "phones", "hours", "email"]] = Field(
        default_factory=list,
        description="Fields left empty because no source confirmed them: editors must fill them.",
    )
    sources: list[Source] = Field(default_factory=list)
    reviewed: dt.date | None = None


class MenuFile(_Strict):
    spec_version: Literal[1]
    language: Literal["ky", "ru", "en"]
    name: Annotated[str, StringConstraints(min_length=1)] = Field(
        description="The language's own name, shown on the language buttons."
    )
    menu: Menu


class TopicFile(_Strict):
    spec_version: Literal[1]
    topic: Topic


class TreeFile(_Strict):
    spec_version: Literal[1]
    tree: Tree


class ContactsFile(_Strict):
    spec_version: Literal[1]
    contacts: list[Contact]


FILE_MODELS: dict[str, type[_Strict]] = {
    "menu": MenuFile,
    "topic": TopicFile,
    "tree": TreeFile,
    "contacts": ContactsFile,
}


def file_kind(relative_path: str) -> str | None:
    """Which kind of content file a path (relative to the language directory) is."""
    if relative_path == "menu.yaml":
        return "menu"
    if relative_path == "contacts.yaml":
        return "contacts"
    if re.fullmatch(r"topics/[a-z0-9-]+\.ya?ml", relative_path):
        return "topic"
    if re.fullmatch(r"trees/[a-z0-9-]+\.ya?ml", relative_path):
        return "tree"
    return None


def json_schemas() -> dict[str, dict[str, object]]:
    """The JSON Schema of each content file kind, for editors' YAML tooling."""
    return {kind: model.model_json_schema() for kind, model in FILE_MODELS.items()}

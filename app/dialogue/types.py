"""What goes into the dialogue engine (events, state) and what comes out (replies, effects).

Channel-neutral: an adapter turns a Telegram update (or a terminal line, or a web-widget message)
into an event and renders the replies it gets back.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

Lang = Literal["ky", "ru", "en"]
CommandName = Literal["menu", "back", "language", "help", "emergency", "stop", "requests", "forget"]


class _Event(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StartEvent(_Event):
    """The user opens the conversation (/start), maybe through a deep link with a payload."""

    type: Literal["start"]
    payload: (
        Annotated[str, StringConstraints(max_length=64, pattern=r"^[A-Za-z0-9_-]*$")] | None
    ) = None
    language_hint: str | None = Field(
        None, max_length=16, description="The client's language code, e.g. ky, ru-RU."
    )


class TextEvent(_Event):
    type: Literal["text"]
    text: Annotated[str, StringConstraints(min_length=1, max_length=4096)]


class ButtonEvent(_Event):
    """A button press: `data` as the engine gave it (at most 64 bytes, Telegram's limit)."""

    type: Literal["button"]
    data: Annotated[str, StringConstraints(min_length=1, max_length=64)]


class ContactEvent(_Event):
    """A phone number the user shared (Telegram's contact button)."""

    type: Literal["contact"]
    phone: Annotated[str, StringConstraints(min_length=3, max_length=32)]
    own: bool = Field(True, description="Whether the contact is the user's own.")


class LanguageEvent(_Event):
    type: Literal["language"]
    lang: Lang


class CommandEvent(_Event):
    type: Literal["command"]
    name: CommandName


Event = Annotated[
    StartEvent | TextEvent | ButtonEvent | ContactEvent | LanguageEvent | CommandEvent,
    Field(discriminator="type"),
]


@dataclass(frozen=True)
class Button:
    label: str
    data: str | None = None  # what comes back in a ButtonEvent
    url: str | None = None  # a link button instead


@dataclass(frozen=True)
class Reply:
    """One message to show. `text` uses the safe markup: **bold**, [label](url), blank lines."""

    text: str
    buttons: list[list[Button]] = field(default_factory=list)
    # When set, ask the user to share their phone number with a button of this label.
    contact_request: str | None = None


@dataclass(frozen=True)
class Effect:
    """Something the engine asks the service to do (the engine itself does no I/O)."""

    kind: Literal[
        "consular_request",
        "consular_cancel",
        "consular_message",
        "forget",
        "unanswered",
        "campaign",
        "profile",
        "subscription",
    ]
    data: dict[str, Any]


@dataclass
class State:
    """Everything the engine remembers of one user, stored as JSON."""

    lang: str | None = None
    node: str | None = None  # "tree:node"
    history: list[str] = field(default_factory=list)
    country: str | None = None
    quiz: str | None = None
    score: int = 0
    awaiting: Literal["language"] | None = None
    urgent: bool = False  # the consular request started from the emergency entry
    form: dict[str, Any] | None = None  # a consular request being filled in
    reply_to: int | None = None  # the request whose consulate the user is answering

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> State:
        if not data:
            return cls()
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        if known.get("awaiting") not in (None, "language"):
            known["awaiting"] = None  # a state stored by an older version
        return cls(**known)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class StepResult:
    replies: list[Reply]
    state: State
    effects: list[Effect] = field(default_factory=list)

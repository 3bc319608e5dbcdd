"""The Bot API spec (api.json, Bot API 10.1) as a validator for requests and objects.

`Spec.validate_call(method, params, form=...)` checks one request: method exists (case-insensitive),
every parameter is a field of the method, every required field is present, every value has one of
its declared types (recursively through objects, arrays and subtypes), plus the limits the spec
states only in prose (lengths "N-M characters/bytes" read from the field descriptions, text after
entity parsing, bot command syntax, etc.).

Form-encoded values are strings: Integer/Float/Boolean are coerced from their JSON spelling
("123", "1.5", "true"), objects and arrays are JSON-decoded, String stays as sent.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from .html import PARSE_MODES, HtmlParseError, parse_text

SPEC_ENV = "TELEGRAM_BOT_API_SPEC"
SHARED_SPEC = Path(__file__).resolve().parents[3] / "shared" / "telegram-bot-api" / "api.json"

PRIMITIVES = frozenset({"Integer", "Float", "String", "Boolean", "InputFile"})
CHAT_ACTIONS = frozenset(
    {
        "typing",
        "upload_photo",
        "record_video",
        "upload_video",
        "record_voice",
        "upload_voice",
        "upload_document",
        "choose_sticker",
        "find_location",
        "record_video_note",
        "upload_video_note",
    }
)
# The fields of InlineKeyboardButton of which exactly one must be used.
INLINE_BUTTON_ACTIONS = (
    "url",
    "callback_data",
    "web_app",
    "login_url",
    "switch_inline_query",
    "switch_inline_query_current_chat",
    "switch_inline_query_chosen_chat",
    "copy_text",
    "callback_game",
    "pay",
)
_LENGTH = re.compile(r"(\d+)\s*-\s*(\d+)\s+(characters?|bytes?)", re.IGNORECASE)
_DISCRIMINATOR = re.compile(r"(?:always|must be)\s+\"?([a-z_]+)\"?")
_INT = re.compile(r"-?[0-9]+")
_FLOAT = re.compile(r"-?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?")
_STRING_CHAT_ID = re.compile(r"@[A-Za-z][A-Za-z0-9_]{3,}|-?[0-9]+")
_COMMAND_CHARS = re.compile(r"[a-z0-9_]*")
_SECRET = re.compile(r"[A-Za-z0-9_-]{1,256}")


@dataclass(frozen=True)
class Issue:
    """One way a request departs from the spec: `field` is a dotted path ('' for the method)."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}" if self.field else self.message


@dataclass
class UploadedFile:
    """A file part of a multipart request."""

    filename: str | None
    content_type: str | None
    data: bytes

    def __repr__(self) -> str:
        return f"UploadedFile({self.filename!r}, {len(self.data)} bytes)"


@dataclass(frozen=True)
class LengthLimit:
    low: int
    high: int
    unit: str  # "characters" | "bytes"
    after_parsing: bool


def _describe(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, default=repr) if value is not None else "null"
    if len(text) > 60:
        text = text[:57] + "..."
    return f"{type(value).__name__} {text}"


def spec_path() -> Path:
    """The official spec: $TELEGRAM_BOT_API_SPEC, else ../shared beside the project (as in CI)."""
    path = Path(os.environ.get(SPEC_ENV) or SHARED_SPEC)
    if not path.exists():
        raise FileNotFoundError(
            f"the Bot API spec is not at {path}: set {SPEC_ENV} to an api.json "
            "(the project expects ../shared/telegram-bot-api/api.json)"
        )
    return path


@cache
def load_spec(path: str | None = None) -> Spec:
    """The parsed spec (cached per path)."""
    with open(path or spec_path(), encoding="utf-8") as fh:
        return Spec(json.load(fh))


class Spec:
    """Methods and types of the Bot API with a validator over them."""

    def __init__(self, data: dict[str, Any], *, strict_gt: bool = False) -> None:
        self.version: str = data.get("version", "?")
        self.methods: dict[str, dict[str, Any]] = data["methods"]
        self.types: dict[str, dict[str, Any]] = data["types"]
        self.strict_gt = strict_gt
        self._by_lower = {name.lower(): name for name in self.methods}
        self._fields: dict[str, dict[str, dict[str, Any]]] = {}
        for kind in (self.methods, self.types):
            for name, definition in kind.items():
                self._fields[name] = {f["name"]: f for f in definition.get("fields", [])}
        self._limits: dict[tuple[str, str], LengthLimit] = {}
        for name, fields in self._fields.items():
            for fname, f in fields.items():
                m = _LENGTH.search(f.get("description", ""))
                if m and "String" in f["types"]:
                    unit = "bytes" if m.group(3).lower().startswith("byte") else "characters"
                    after = "after entit" in f["description"]
                    self._limits[(name, fname)] = LengthLimit(
                        int(m.group(1)), int(m.group(2)), unit, after
                    )
        self._discriminators: dict[str, tuple[str, str]] = {}
        for name, definition in self.types.items():
            for f in definition.get("fields", [])[:1]:
                if f["name"] in ("type", "status", "source"):
                    m = _DISCRIMINATOR.search(f["description"])
                    if m:
                        self._discriminators[name] = (f["name"], m.group(1))
        self._type_checks: dict[str, Callable[[dict[str, Any], str], list[Issue]]] = {
            "InlineKeyboardButton": _check_inline_button,
            "KeyboardButton": _check_keyboard_button,
            "BotCommand": _check_bot_command,
            "ReplyKeyboardRemove": lambda v, p: _must_be_true(v, p, "remove_keyboard"),
            "ForceReply": lambda v, p: _must_be_true(v, p, "force_reply"),
        }

    # -- lookups -------------------------------------------------------------------------------

    def method_name(self, name: str) -> str | None:
        """The canonical spelling of a method name (Telegram matches them case-insensitively)."""
        return self._by_lower.get(name.lower())

    def fields(self, name: str) -> dict[str, dict[str, Any]]:
        """Fields of a method or type by name."""
        return self._fields.get(name, {})

    def returns(self, method: str) -> list[str]:
        return list(self.methods[method].get("returns", []))

    def length_limit(self, owner: str, field: str) -> LengthLimit | None:
        return self._limits.get((owner, field))

    # -- requests ------------------------------------------------------------------------------

    def validate_call(
        self,
        method: str,
        params: dict[str, Any],
        *,
        form: bool,
        files: dict[str, UploadedFile] | None = None,
    ) -> tuple[dict[str, Any], list[Issue]]:
        """Validate a call to the canonical `method`; return (coerced params, issues).

        `form` is True when values arrived as strings (urlencoded, multipart or query string).
        `files` are multipart file parts: those named like a field are that field's value, the
        others must be referenced from some value as ``attach://<name>``.
        """
        fields = self.fields(method)
        issues: list[Issue] = []
        coerced: dict[str, Any] = {}
        files = dict(files or {})
        merged: dict[str, Any] = dict(params)
        for name in list(files):
            if name in fields:
                if name in merged:
                    issues.append(Issue(name, "sent both as a file part and as a value"))
                merged[name] = files.pop(name)
        for name, value in merged.items():
            if name not in fields:
                issues.append(Issue(name, f"unknown parameter of {method}"))
                continue
            value, sub = self.check_value(value, fields[name]["types"], name, form=form, top=True)
            issues.extend(sub)
            coerced[name] = value
        for name, f in fields.items():
            if f["required"] and name not in merged:
                issues.append(Issue(name, f"parameter {name} is required"))
        referenced = set(
            re.findall(r"attach://([A-Za-z0-9_.-]+)", json.dumps(params, default=repr))
        )
        for name in files:
            if name not in referenced:
                issues.append(Issue(name, "file part is neither a parameter nor attach://-ed"))
        for name in referenced:
            if name not in files:
                issues.append(Issue(name, f"attach://{name} refers to no uploaded file part"))
        if not issues:
            issues.extend(self._check_lengths(method, coerced, ""))
            issues.extend(self._prose_checks(method, coerced))
        return coerced, issues

    def validate_object(self, value: Any, type_name: str, path: str = "") -> list[Issue]:
        """Validate a decoded object (e.g. an Update the double sends) against a type."""
        return self.check_value(value, [type_name], path, form=False)[1]

    # -- values --------------------------------------------------------------------------------

    def check_value(
        self, value: Any, types: list[str], path: str, *, form: bool, top: bool = False
    ) -> tuple[Any, list[Issue]]:
        """Check `value` against the union `types`; return (coerced value, issues)."""
        candidates: list[tuple[Any, list[Issue]]] = []
        for type_expr in types:
            result, issues = self._check_one(value, type_expr, path, form=form, top=top)
            if not issues:
                return result, []
            candidates.append((result, issues))
        if all(_is_mismatch(c[1], path) for c in candidates):
            return value, [Issue(path, f"expected {' or '.join(types)}, got {_describe(value)}")]
        return min(candidates, key=lambda c: len(c[1]))

    def _check_one(
        self, value: Any, type_expr: str, path: str, *, form: bool, top: bool
    ) -> tuple[Any, list[Issue]]:
        if type_expr.startswith("Array of "):
            inner = type_expr[len("Array of ") :]
            if isinstance(value, str) and (form or top):
                try:
                    value = json.loads(value)
                except ValueError:
                    return value, [
                        Issue(path, f"can't parse JSON (expected a JSON-serialized {type_expr})")
                    ]
            if not isinstance(value, list):
                return value, [Issue(path, f"expected {type_expr}, got {_describe(value)}")]
            out: list[Any] = []
            issues: list[Issue] = []
            for i, item in enumerate(value):
                item_value, sub = self.check_value(item, [inner], f"{path}[{i}]", form=False)
                out.append(item_value)
                issues.extend(sub)
            return out, issues
        if type_expr in PRIMITIVES:
            return self._check_primitive(value, type_expr, path, form=form)
        if type_expr not in self.types:
            return value, [Issue(path, f"the spec names an unknown type {type_expr}")]
        if isinstance(value, str) and (form or top):
            try:
                value = json.loads(value)
            except ValueError:
                return value, [
                    Issue(path, f"can't parse JSON (expected a JSON-serialized {type_expr})")
                ]
        return value, self._check_object(value, type_expr, path)

    @staticmethod
    def _check_primitive(
        value: Any, type_expr: str, path: str, *, form: bool
    ) -> tuple[Any, list[Issue]]:
        bad = [Issue(path, f"expected {type_expr}, got {_describe(value)}")]
        if type_expr == "String":
            return (value, []) if isinstance(value, str) else (value, bad)
        if type_expr == "InputFile":
            return (value, []) if isinstance(value, str | UploadedFile) else (value, bad)
        if type_expr == "Integer":
            if isinstance(value, bool):
                return value, bad
            if isinstance(value, int):
                return value, []
            if form and isinstance(value, str) and _INT.fullmatch(value):
                return int(value), []
            return value, bad
        if type_expr == "Float":
            if isinstance(value, bool):
                return value, bad
            if isinstance(value, int | float):
                return float(value), []
            if form and isinstance(value, str) and _FLOAT.fullmatch(value):
                return float(value), []
            return value, bad
        # Boolean
        if isinstance(value, bool):
            return value, []
        if form and isinstance(value, str) and value.lower() in ("true", "false"):
            return value.lower() == "true", []
        return value, bad

    def _check_object(self, value: Any, type_name: str, path: str) -> list[Issue]:
        definition = self.types[type_name]
        if "subtypes" in definition:
            return self._check_subtypes(value, type_name, path)
        if not isinstance(value, dict):
            return [Issue(path, f"expected {type_name}, got {_describe(value)}")]
        fields = self.fields(type_name)
        if not fields:  # placeholder types such as CallbackGame
            return []
        issues: list[Issue] = []
        prefix = f"{path}." if path else ""
        for key, item in value.items():
            if key not in fields:
                issues.append(Issue(f"{prefix}{key}", f"unknown field of {type_name}"))
                continue
            _, sub = self.check_value(item, fields[key]["types"], f"{prefix}{key}", form=False)
            issues.extend(sub)
        for key, f in fields.items():
            if f["required"] and key not in value:
                issues.append(Issue(f"{prefix}{key}", f"required field of {type_name} is missing"))
        if not issues:
            issues.extend(self._check_lengths(type_name, value, prefix))
            check = self._type_checks.get(type_name)
            if check is not None:
                issues.extend(check(value, path))
        return issues

    def _check_subtypes(self, value: Any, type_name: str, path: str) -> list[Issue]:
        subtypes: list[str] = self.types[type_name]["subtypes"]
        if isinstance(value, dict):
            keyed = [s for s in subtypes if s in self._discriminators]
            for sub in keyed:
                key, const = self._discriminators[sub]
                if value.get(key) == const:
                    return self._check_object(value, sub, path)
            keys = {self._discriminators[s][0] for s in keyed}
            if len(keys) == 1 and len(keyed) == len(subtypes):
                key = keys.pop()
                allowed = ", ".join(repr(self._discriminators[s][1]) for s in keyed)
                got = value.get(key)
                return [
                    Issue(
                        f"{path}.{key}" if path else key,
                        f"{type_name} needs {key} one of {allowed}, got {got!r}",
                    )
                ]
        results = []
        for sub in subtypes:
            _, issues = self.check_value(value, [sub], path, form=False)
            if not issues:
                return []
            results.append(issues)
        best = min(results, key=len)
        if all(_is_mismatch(r, path) for r in results):
            return [Issue(path, f"expected {type_name}, got {_describe(value)}")]
        return best

    # -- prose limits --------------------------------------------------------------------------

    def _check_lengths(self, owner: str, values: dict[str, Any], prefix: str) -> list[Issue]:
        issues: list[Issue] = []
        for name, value in values.items():
            limit = self._limits.get((owner, name))
            if limit is None or not isinstance(value, str):
                continue
            path = f"{prefix}{name}"
            text = value
            if limit.after_parsing:
                fields = self.fields(owner)
                mode_field = f"{name}_parse_mode"
                if mode_field not in fields:
                    mode_field = "parse_mode"
                entities_field = f"{name}_entities"
                if entities_field not in fields:
                    entities_field = "entities"
                try:
                    text = parse_text(
                        value,
                        values.get(mode_field),
                        values.get(entities_field),
                        strict_gt=self.strict_gt,
                    ).text
                except HtmlParseError as exc:
                    issues.append(Issue(path, f"can't parse entities: {exc}"))
                    continue
            size = len(text.encode("utf-8")) if limit.unit == "bytes" else len(text)
            if limit.after_parsing and limit.low >= 1 and not text.strip():
                what = "message text" if name == "text" else name
                issues.append(Issue(path, f"{what} is empty (after entity parsing)"))
            elif size < limit.low or size > limit.high:
                note = " after entity parsing" if limit.after_parsing else ""
                issues.append(
                    Issue(
                        path,
                        f"{name} must be {limit.low}-{limit.high} {limit.unit}{note}, got {size}",
                    )
                )
        return issues

    def _prose_checks(self, method: str, params: dict[str, Any]) -> list[Issue]:
        issues: list[Issue] = []
        for key, value in params.items():
            is_mode = key == "parse_mode" or key.endswith("_parse_mode")
            if is_mode and isinstance(value, str) and value.lower() not in PARSE_MODES:
                issues.append(Issue(key, f"unsupported parse_mode {value!r}"))
            if key == "chat_id" and isinstance(value, str) and not _STRING_CHAT_ID.fullmatch(value):
                issues.append(
                    Issue(key, f"chat_id must be an Integer or '@username', got {value!r}")
                )
        if method == "sendChatAction" and params.get("action") not in CHAT_ACTIONS:
            issues.append(Issue("action", f"unknown chat action {params.get('action')!r}"))
        if method == "setMyCommands" and len(params.get("commands", [])) > 100:
            issues.append(Issue("commands", "at most 100 commands can be specified"))
        if method in ("setMyCommands", "getMyCommands", "deleteMyCommands"):
            code = params.get("language_code", "")
            if not re.fullmatch(r"([a-z]{2})?", code):
                issues.append(
                    Issue("language_code", f"must be a two-letter ISO 639-1 code, got {code!r}")
                )
        if method == "setWebhook":
            if not _SECRET.fullmatch(params.get("secret_token", "x")):
                issues.append(
                    Issue("secret_token", "1-256 characters of A-Z, a-z, 0-9, _ and - only")
                )
            if not 1 <= params.get("max_connections", 40) <= 100:
                issues.append(Issue("max_connections", "must be 1-100"))
        if method.startswith("editMessage") or method == "stopMessageLiveLocation":
            fields = self.fields(method)
            if "inline_message_id" in fields and "inline_message_id" not in params:
                for key in ("chat_id", "message_id"):
                    if key in fields and key not in params:
                        issues.append(
                            Issue(key, f"{key} is required if inline_message_id is not specified")
                        )
            elif "inline_message_id" in params and "chat_id" in params:
                issues.append(
                    Issue("inline_message_id", "pass either inline_message_id or chat_id")
                )
        if method == "editMessageText" and "text" not in params and "rich_message" not in params:
            issues.append(Issue("text", "text is required if rich_message isn't specified"))
        return issues


def _is_mismatch(issues: list[Issue], path: str) -> bool:
    """True when `issues` just say the value at `path` itself has the wrong type."""
    return (
        len(issues) == 1 and issues[0].field == path and issues[0].message.startswith("expected ")
    )


def _must_be_true(value: dict[str, Any], path: str, key: str) -> list[Issue]:
    if value.get(key) is not True:
        return [Issue(f"{path}.{key}" if path else key, f"{key} must be True")]
    return []


def _check_inline_button(value: dict[str, Any], path: str) -> list[Issue]:
    issues: list[Issue] = []
    used = [k for k in INLINE_BUTTON_ACTIONS if k in value]
    if len(used) != 1:
        issues.append(
            Issue(
                path,
                "exactly one of the optional fields (url, callback_data, ...) must be used, "
                f"got {used or 'none'}",
            )
        )
    if not value.get("text"):
        issues.append(Issue(f"{path}.text", "button text must be non-empty"))
    return issues


def _check_keyboard_button(value: dict[str, Any], path: str) -> list[Issue]:
    if not value.get("text"):
        return [Issue(f"{path}.text", "button text must be non-empty")]
    return []


def _check_bot_command(value: dict[str, Any], path: str) -> list[Issue]:
    command = value.get("command", "")
    if not _COMMAND_CHARS.fullmatch(command):
        return [
            Issue(
                f"{path}.command",
                f"command can contain only lowercase English letters, digits and _: {command!r}",
            )
        ]
    return []

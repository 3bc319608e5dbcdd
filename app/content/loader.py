"""Read the content files of every language, keeping the line of every value for error messages."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

from app.content.schema import FILE_MODELS, LANGUAGES, file_kind

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Problem:
    """One finding of the loader or validator, located in a file."""

    severity: str  # "error" | "warning"
    code: str
    file: str
    path: str
    message: str
    hint: str
    line: int | None = None

    def format(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        at = f" {self.path}:" if self.path else ""
        return f"{where}:{at} {self.severity} [{self.code}] {self.message} (hint: {self.hint})"


@dataclass
class SourceFile:
    lang: str
    relative: str  # path inside the language directory
    display: str  # path shown to editors, e.g. content/ky/trees/main.yaml
    kind: str
    data: dict[str, Any]
    model: BaseModel
    lines: dict[Path_, int]

    def line_of(self, path: Path_) -> int | None:
        """The line of `path`, or of its nearest ancestor that has one."""
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get(())


@dataclass
class LoadedContent:
    files: list[SourceFile] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)

    def by_lang(self, lang: str) -> list[SourceFile]:
        return [f for f in self.files if f.lang == lang]


def format_path(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_lines(node: yaml.Node, path: Path_, lines: dict[Path_, int]) -> None:
    lines[path] = node.start_mark.line + 1
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                lines[(*path, key.value)] = key.start_mark.line + 1
                _node_lines(value, (*path, key.value), lines)
                lines[(*path, key.value)] = key.start_mark.line + 1
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _node_lines(item, (*path, index), lines)


def _duplicate_keys(node: yaml.Node, path: Path_) -> list[tuple[Path_, str, int]]:
    found: list[tuple[Path_, str, int]] = []
    if isinstance(node, yaml.MappingNode):
        seen: set[str] = set()
        for key, value in node.value:
            if isinstance(key, yaml.ScalarNode):
                if key.value in seen:
                    found.append((path, key.value, key.start_mark.line + 1))
                seen.add(key.value)
                found += _duplicate_keys(value, (*path, key.value))
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            found += _duplicate_keys(item, (*path, index))
    return found


def read_file(
    path: Path, lang: str, relative: str, display: str
) -> tuple[SourceFile | None, list[Problem]]:
    """Parse and schema-check one file. Problems carry the file and line."""
    kind = file_kind(relative)
    if kind is None:
        return None, [
            Problem(
                "error",
                "unknown_file",
                display,
                "",
                "not a content file",
                "name it menu.yaml, contacts.yaml, topics/<id>.yaml or trees/<id>.yaml",
            )
        ]
    text = path.read_text(encoding="utf-8")
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        context, context_mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
        message = str(getattr(exc, "problem", None) or exc)
        if context and context_mark:
            message = f"{context} (line {context_mark.line + 1}): {message}"
        hint = "fix the YAML syntax (indentation, quotes, colons)"
        if "mapping values are not allowed" in message:
            hint = "quote a value that ends with ':' or holds ': ', e.g. goto: 'quiz:'"
        return None, [
            Problem(
                "error", "yaml_syntax", display, "", message, hint, mark.line + 1 if mark else None
            )
        ]
    lines: dict[Path_, int] = {}
    if root is not None:
        _node_lines(root, (), lines)
    problems = [
        Problem(
            "error",
            "duplicate_key",
            display,
            format_path(p),
            f"key {key!r} appears twice",
            "keep one of them",
            line,
        )
        for p, key, line in (_duplicate_keys(root, ()) if root is not None else [])
    ]
    if not isinstance(data, dict):
        return None, [
            *problems,
            Problem(
                "error",
                "schema",
                display,
                "",
                "the file is not a mapping",
                "start the file with spec_version: 1",
                1,
            ),
        ]
    try:
        model = FILE_MODELS[kind].model_validate(data)
    except ValidationError as exc:
        source = SourceFile(lang, relative, display, kind, data, None, lines)  # type: ignore[arg-type]
        for err in exc.errors():
            loc = _model_loc(err["loc"], data)
            problems.append(
                Problem(
                    "error",
                    "schema",
                    display,
                    format_path(loc),
                    err["msg"],
                    _schema_hint(err),
                    source.line_of(loc),
                )
            )
        return None, problems
    return SourceFile(lang, relative, display, kind, data, model, lines), problems


def _model_loc(loc: tuple[int | str, ...], data: Any) -> Path_:
    """Map a pydantic error location onto the YAML: drop the union tags pydantic inserts
    ("message", "str", ...) by following the location through the data itself."""
    path: list[str | int] = []
    current = data
    for part in loc:
        if _has(current, part):
            current = current[part]
        elif (
            isinstance(current, dict)
            and part == loc[-1]
            and isinstance(part, str)
            and "[" not in part
            and part not in _UNION_TAGS
        ):
            path.append(part)  # a missing or extra field: the last part names it
            break
        else:
            continue  # a union tag: not in the data
        path.append(part)
    return tuple(path)


def _has(value: Any, part: str | int) -> bool:
    if isinstance(value, dict):
        return part in value
    return isinstance(value, list) and isinstance(part, int) and part < len(value)


_UNION_TAGS = {
    "message",
    "article",
    "contacts",
    "question",
    "verdict",
    "action",
    "str",
    "Fallback",
    "constrained-str",
}


def _schema_hint(err: Any) -> str:
    kind = err["type"]
    if kind == "missing":
        return "add this field"
    if kind == "extra_forbidden":
        return "remove this field or check its spelling"
    if kind == "string_pattern_mismatch":
        return "ids are lower-case a-z, 0-9 and '-'; references are node, tree:node or tree:"
    if kind == "union_tag_invalid":
        return "type is one of message, article, contacts, question, verdict, action"
    if kind == "literal_error":
        return "use one of the allowed values"
    return "see content.schema.json for the expected shape"


def read_content(content_dir: Path, languages: tuple[str, ...] = LANGUAGES) -> LoadedContent:
    """Read every language directory under `content_dir`."""
    loaded = LoadedContent()
    base = content_dir.parent
    for lang in languages:
        lang_dir = content_dir / lang
        if not lang_dir.is_dir():
            loaded.problems.append(
                Problem(
                    "error",
                    "missing_language",
                    str(lang_dir),
                    "",
                    f"no content for language {lang!r}",
                    f"create {lang_dir}/ with the same files as the others",
                )
            )
            continue
        for path in sorted(lang_dir.rglob("*.y*ml")):
            relative = path.relative_to(lang_dir).as_posix()
            try:
                display = path.relative_to(base).as_posix()
            except ValueError:
                display = str(path)
            source, problems = read_file(path, lang, relative, display)
            loaded.problems += problems
            if source is not None:
                loaded.files.append(source)
    return loaded


def checksum(bundle: dict[str, Any]) -> str:
    encoded = json.dumps(bundle, sort_keys=True, ensure_ascii=False, default=str).encode()
    return hashlib.sha256(encoded).hexdigest()

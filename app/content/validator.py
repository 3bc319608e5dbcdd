"""The one content validator: every problem with its file, line, path and a hint to fix it.

Run by ``jol content check``, by ``jol content load`` (which refuses content with errors), at start
and by the tests (``tests/content/broken/`` holds one fixture per error kind).
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from app.content.loader import LoadedContent, Path_, Problem, SourceFile, format_path, read_content
from app.content.model import parse_ref, short_key
from app.content.schema import (
    LANGUAGES,
    ActionNode,
    Answer,
    ArticleNode,
    ContactsFile,
    ContactsNode,
    MenuFile,
    MessageNode,
    Option,
    QuestionNode,
    Tree,
    VerdictNode,
)

TELEGRAM_TEXT_LIMIT = 4096
BUTTON_LABEL_LIMIT = 64
# Room kept for what the engine adds around a text (review date line, navigation hints).
RENDER_RESERVE = 200

# Keys whose values are human text (translated); their presence must match across languages.
TEXT_KEYS = {
    "title",
    "body",
    "text",
    "label",
    "summary",
    "name",
    "city",
    "address",
    "hours",
    "note",
}
# Loader findings after which a file is missing from the language's graph.
UNREADABLE = {"yaml_syntax", "schema", "missing_language"}
# Keys each language writes freely (example questions, search tags).
FREE_KEYS = {"questions", "tags"}


@dataclass
class Report:
    problems: list[Problem] = field(default_factory=list)
    bundle: dict[str, Any] | None = None

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def ok(self) -> bool:
        return not self.errors


class _Collector:
    def __init__(self) -> None:
        self.problems: list[Problem] = []

    def add(
        self, severity: str, code: str, source: SourceFile, path: Path_, message: str, hint: str
    ) -> None:
        self.problems.append(
            Problem(
                severity,
                code,
                source.display,
                format_path(path),
                message,
                hint,
                source.line_of(path),
            )
        )


def check_directory(
    content_dir: Path, *, today: dt.date | None = None, review_max_age_days: int = 365
) -> Report:
    """Read and validate the content under `content_dir`."""
    loaded = read_content(content_dir)
    return validate(loaded, today=today, review_max_age_days=review_max_age_days)


def validate(
    loaded: LoadedContent, *, today: dt.date | None = None, review_max_age_days: int = 365
) -> Report:
    today = today or dt.date.today()
    out = _Collector()
    out.problems += loaded.problems
    unreadable = {p.file for p in loaded.problems if p.code in UNREADABLE}
    for lang in LANGUAGES:
        # References into a file that could not be read would all look dangling: check the
        # graph of a language only once all its files are readable.
        readable = not any(f.startswith(f"{lang}/") or f"/{lang}/" in f for f in unreadable)
        _check_language(lang, loaded.by_lang(lang), out, today, review_max_age_days, graph=readable)
    _check_structure(loaded, out)
    _check_fallbacks(loaded, out)
    report = Report(problems=_dedupe(out.problems))
    if report.ok:
        report.bundle = build_bundle(loaded)
    return report


def _dedupe(problems: list[Problem]) -> list[Problem]:
    seen: set[tuple[str, str, str, str]] = set()
    unique = []
    for p in problems:
        key = (p.code, p.file, p.path, p.message)
        if key not in seen:
            seen.add(key)
            unique.append(p)
    return unique


def build_bundle(loaded: LoadedContent) -> dict[str, Any]:
    """The JSON-able snapshot stored as a content version: every language, markers kept."""
    languages: dict[str, Any] = {}
    for lang in LANGUAGES:
        files = loaded.by_lang(lang)
        if not files:
            continue
        entry: dict[str, Any] = {"topics": [], "trees": [], "contacts": []}
        for source in sorted(files, key=lambda f: f.relative):
            dumped = source.model.model_dump(mode="json", exclude_none=True)
            if source.kind == "menu":
                entry["name"] = dumped["name"]
                entry["menu"] = dumped["menu"]
            elif source.kind == "topic":
                entry["topics"].append(dumped["topic"])
            elif source.kind == "tree":
                entry["trees"].append(dumped["tree"])
            elif source.kind == "contacts":
                entry["contacts"] += dumped["contacts"]
        languages[lang] = entry
    return {"spec_version": 1, "languages": languages}


# --- one language ------------------------------------------------------------------------------


def _check_language(
    lang: str,
    files: list[SourceFile],
    out: _Collector,
    today: dt.date,
    max_age: int,
    *,
    graph: bool,
) -> None:
    menus = [f for f in files if f.kind == "menu"]
    trees: dict[str, Tree] = {}
    tree_files: dict[str, SourceFile] = {}
    articles: dict[str, tuple[SourceFile, Path_]] = {}
    seen_topics: dict[str, SourceFile] = {}

    for source in files:
        if source.kind == "topic":
            topic = source.model.topic  # type: ignore[attr-defined]
            _check_file_name(source, topic.id, ("topic", "id"), out)
            if topic.id in seen_topics:
                out.add(
                    "error",
                    "duplicate_id",
                    source,
                    ("topic", "id"),
                    f"topic id {topic.id!r} is also used in {seen_topics[topic.id].display}",
                    "give each topic its own id",
                )
            seen_topics[topic.id] = source
            for i, article in enumerate(topic.articles):
                path: Path_ = ("topic", "articles", i)
                if article.id in articles:
                    out.add(
                        "error",
                        "duplicate_id",
                        source,
                        (*path, "id"),
                        f"article id {article.id!r} is also used in "
                        f"{articles[article.id][0].display}",
                        "give each article its own id",
                    )
                articles[article.id] = (source, path)
                _check_sourced(
                    source, path, article.sources, article.reviewed, "article", out, today, max_age
                )
                _check_length(
                    source, (*path, "body"), _len(article.title) + _len(article.body), out
                )
        elif source.kind == "tree":
            tree = source.model.tree  # type: ignore[attr-defined]
            _check_file_name(source, tree.id, ("tree", "id"), out)
            if tree.id in trees:
                out.add(
                    "error",
                    "duplicate_id",
                    source,
                    ("tree", "id"),
                    f"tree id {tree.id!r} is also used in {tree_files[tree.id].display}",
                    "give each tree its own id",
                )
            trees[tree.id] = tree
            tree_files[tree.id] = source
        elif source.kind == "contacts":
            _check_contacts(source, out, today, max_age)
        elif source.kind == "menu" and source.model.language != lang:  # type: ignore[attr-defined]
            out.add(
                "error",
                "wrong_language",
                source,
                ("language",),
                f"menu.yaml of content/{lang}/ declares language {source.model.language!r}",  # type: ignore[attr-defined]
                f"set language: {lang}",
            )

    if not graph:
        return
    if not menus:
        out.problems.append(
            Problem(
                "error",
                "missing_file",
                f"content/{lang}/menu.yaml",
                "",
                "menu.yaml is missing",
                "add menu.yaml with the entry points",
            )
        )
    keys: dict[str, tuple[str, str]] = {}
    for tree_id, tree in trees.items():
        _check_tree(tree, tree_files[tree_id], trees, articles, out)
        for node in tree.nodes:
            key = short_key(f"{tree_id}:{node.id}")
            if key in keys and keys[key] != (tree_id, node.id):
                out.add(
                    "error",
                    "key_collision",
                    tree_files[tree_id],
                    ("tree", "id"),
                    f"node {tree_id}:{node.id} has the same button key as {keys[key]}",
                    "rename one of the two nodes",
                )
            keys[key] = (tree_id, node.id)
    if menus:
        _check_reachability(menus[0], trees, tree_files, out)


def _check_file_name(source: SourceFile, item_id: str, path: Path_, out: _Collector) -> None:
    stem = Path(source.relative).stem
    if stem != item_id:
        out.add(
            "error",
            "file_name",
            source,
            path,
            f"the file is named {stem!r} but holds id {item_id!r}",
            f"rename the file to {item_id}.yaml or the id to {stem}",
        )


def _check_sourced(
    source: SourceFile,
    path: Path_,
    sources: list[Any],
    reviewed: dt.date | None,
    what: str,
    out: _Collector,
    today: dt.date,
    max_age: int,
) -> None:
    if not sources:
        out.add(
            "error",
            "unsourced",
            source,
            path,
            f"the {what} has no source",
            "add sources: [{title, url, accessed}] for every fact it states",
        )
    if reviewed is None:
        out.add(
            "error",
            "not_reviewed",
            source,
            path,
            f"the {what} has no reviewed date",
            "add reviewed: YYYY-MM-DD after checking it against its sources",
        )
    elif reviewed > today:
        out.add(
            "error",
            "review_in_future",
            source,
            (*path, "reviewed"),
            f"reviewed date {reviewed} is in the future",
            "use the date of the review",
        )
    elif (today - reviewed).days > max_age:
        out.add(
            "warning",
            "stale_review",
            source,
            (*path, "reviewed"),
            f"last reviewed {reviewed}, more than {max_age} days ago",
            "check it against its sources again and update reviewed",
        )


def _len(text: Any) -> int:
    return len(text) if isinstance(text, str) else 0


def _check_length(source: SourceFile, path: Path_, length: int, out: _Collector) -> None:
    if length + RENDER_RESERVE > TELEGRAM_TEXT_LIMIT:
        out.add(
            "error",
            "text_too_long",
            source,
            path,
            f"{length} characters do not fit one Telegram message "
            f"({TELEGRAM_TEXT_LIMIT - RENDER_RESERVE} at most here)",
            "shorten it or split it into two articles or nodes",
        )


def _check_contacts(source: SourceFile, out: _Collector, today: dt.date, max_age: int) -> None:
    model: ContactsFile = source.model  # type: ignore[assignment]
    seen: set[str] = set()
    for i, contact in enumerate(model.contacts):
        path: Path_ = ("contacts", i)
        if contact.id in seen:
            out.add(
                "error",
                "duplicate_id",
                source,
                (*path, "id"),
                f"contact id {contact.id!r} appears twice",
                "give each contact its own id",
            )
        seen.add(contact.id)
        _check_sourced(
            source, path, contact.sources, contact.reviewed, "contact", out, today, max_age
        )
        for name in contact.unverified:
            value = getattr(contact, name)
            if value:
                out.add(
                    "error",
                    "unverified_filled",
                    source,
                    (*path, name),
                    f"{name} is marked unverified but has a value",
                    f"remove {name} from unverified once a source confirms it, "
                    "or leave the field empty",
                )


def _targets(node: Any) -> list[tuple[Path_, str]]:
    """Every reference a node makes, with its path inside the node."""
    if isinstance(node, QuestionNode):
        return [(("answers", i, "goto"), a.goto) for i, a in enumerate(node.answers)]
    return [(("options", i, "goto"), o.goto) for i, o in enumerate(node.options)]


def _check_tree(
    tree: Tree,
    source: SourceFile,
    trees: dict[str, Tree],
    articles: dict[str, tuple[SourceFile, Path_]],
    out: _Collector,
) -> None:
    node_ids: set[str] = set()
    for i, node in enumerate(tree.nodes):
        base: Path_ = ("tree", "nodes", i)
        if node.id in node_ids:
            out.add(
                "error",
                "duplicate_id",
                source,
                (*base, "id"),
                f"node id {node.id!r} appears twice in tree {tree.id!r}",
                "give each node of a tree its own id",
            )
        node_ids.add(node.id)
    if tree.start not in node_ids:
        out.add(
            "error",
            "dangling_reference",
            source,
            ("tree", "start"),
            f"start node {tree.start!r} is not a node of tree {tree.id!r}",
            f"use one of: {', '.join(sorted(node_ids))}",
        )
    quiz_firsts: dict[str, int] = defaultdict(int)
    for i, node in enumerate(tree.nodes):
        base = ("tree", "nodes", i)
        for sub, ref in _targets(node):
            if parse_ref(ref, tree.id, trees) is None:
                out.add(
                    "error",
                    "dangling_reference",
                    source,
                    (*base, *sub),
                    f"{ref!r} is not a known node",
                    "write node, tree:node or tree: for a tree's start; check the spelling",
                )
        if isinstance(node, ArticleNode) and node.article not in articles:
            out.add(
                "error",
                "dangling_reference",
                source,
                (*base, "article"),
                f"article {node.article!r} does not exist",
                "use the id of an article in topics/*.yaml",
            )
        if isinstance(node, MessageNode | ContactsNode | ActionNode | VerdictNode | QuestionNode):
            _check_length(source, (*base, "text"), _len(node.text), out)
        labels: Sequence[Option | Answer] = (
            node.answers if isinstance(node, QuestionNode) else node.options
        )
        for j, item in enumerate(labels):
            if isinstance(item.label, str) and len(item.label) > BUTTON_LABEL_LIMIT:
                out.add(
                    "error",
                    "label_too_long",
                    source,
                    (*base, "answers" if isinstance(node, QuestionNode) else "options", j, "label"),
                    f"button label of {len(item.label)} characters",
                    f"keep button labels within {BUTTON_LABEL_LIMIT} characters",
                )
        if isinstance(node, QuestionNode) and node.first:
            quiz_firsts[node.quiz] += 1
        if isinstance(node, VerdictNode):
            for j, band in enumerate(node.bands):
                _check_length(
                    source, (*base, "bands", j, "text"), _len(node.text) + _len(band.text), out
                )
    for quiz, count in quiz_firsts.items():
        if count > 1:
            out.add(
                "error",
                "quiz",
                source,
                ("tree",),
                f"quiz {quiz!r} has {count} first questions",
                "mark one question first: true",
            )
    _check_cycles(tree, source, trees, out)
    _check_quizzes(tree, source, trees, out)


def _edges(tree: Tree, trees: dict[str, Tree]) -> dict[tuple[str, str], set[tuple[str, str]]]:
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for node in tree.nodes:
        targets = {parse_ref(ref, tree.id, trees) for _, ref in _targets(node)}
        graph[(tree.id, node.id)] = {t for t in targets if t is not None}
    return graph


def _check_cycles(tree: Tree, source: SourceFile, trees: dict[str, Tree], out: _Collector) -> None:
    """A set of nodes that lead only to each other, in a loop, traps the user: report it."""
    graph = _edges(tree, trees)
    for component in _strongly_connected(graph):
        looped = len(component) > 1 or any(n in graph.get(n, set()) for n in component)
        leaves = any(t not in component for n in component for t in graph.get(n, set()))
        if looped and not leaves:
            names = ", ".join(sorted(n for _, n in component))
            index = next(i for i, n in enumerate(tree.nodes) if (tree.id, n.id) in component)
            out.add(
                "error",
                "cycle_without_exit",
                source,
                ("tree", "nodes", index),
                f"nodes {names} lead only to each other",
                "add an option that leaves the loop (e.g. to main:menu)",
            )


def _strongly_connected(graph: dict[Any, set[Any]]) -> list[set[Any]]:
    """Tarjan's algorithm, iterative (trees can be deep)."""
    index: dict[Any, int] = {}
    low: dict[Any, int] = {}
    on_stack: set[Any] = set()
    stack: list[Any] = []
    result: list[set[Any]] = []
    counter = 0
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph.get(root, set()))))]
        index[root] = low[root] = counter
        counter += 1
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            advanced = False
            for child in children:
                if child not in graph:
                    continue  # a node of another tree: checked in that tree
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph.get(child, set())))))
                    advanced = True
                    break
                if child in on_stack:
                    low[node] = min(low[node], index[child])
            if advanced:
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = set()
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.add(member)
                    if member == node:
                        break
                result.append(component)
    return result


def _check_quizzes(tree: Tree, source: SourceFile, trees: dict[str, Tree], out: _Collector) -> None:
    """Every score a quiz can reach must fall into exactly one band of its verdict."""
    nodes = {node.id: node for node in tree.nodes}
    positions = {node.id: i for i, node in enumerate(tree.nodes)}
    for first in (n for n in tree.nodes if isinstance(n, QuestionNode) and n.first):
        reached: dict[str, set[int]] = defaultdict(set)  # verdict id -> scores
        frontier: list[tuple[str, int, frozenset[str]]] = [(first.id, 0, frozenset())]
        while frontier:
            node_id, score, path = frontier.pop()
            node = nodes.get(node_id)
            if isinstance(node, VerdictNode) and node.quiz == first.quiz:
                reached[node_id].add(score)
                continue
            if not isinstance(node, QuestionNode) or node.quiz != first.quiz:
                continue  # leaves the quiz without a verdict: allowed (e.g. "stop the quiz")
            if node_id in path:
                out.add(
                    "error",
                    "quiz",
                    source,
                    ("tree", "nodes", positions[node_id]),
                    f"quiz {first.quiz!r} loops back to question {node_id!r}",
                    "quiz questions must lead forward to the verdict",
                )
                break
            for answer in node.answers:
                target = parse_ref(answer.goto, tree.id, trees)
                if target and target[0] == tree.id:
                    frontier.append((target[1], score + answer.weight, path | {node_id}))
        if not reached:
            out.add(
                "error",
                "quiz",
                source,
                ("tree", "nodes", positions[first.id]),
                f"quiz {first.quiz!r} never reaches a verdict node",
                "lead the last question to a node of type verdict with the same quiz",
            )
        for verdict_id, scores in reached.items():
            verdict = nodes[verdict_id]
            assert isinstance(verdict, VerdictNode)
            base: Path_ = ("tree", "nodes", positions[verdict_id], "bands")
            for j, band in enumerate(verdict.bands):
                if band.min > band.max:
                    out.add(
                        "error",
                        "quiz",
                        source,
                        (*base, j),
                        f"band min {band.min} > max {band.max}",
                        "swap min and max",
                    )
            for score in sorted(scores):
                matching = [b for b in verdict.bands if b.min <= score <= b.max]
                if len(matching) != 1:
                    what = "no band" if not matching else f"{len(matching)} bands"
                    out.add(
                        "error",
                        "quiz_bands",
                        source,
                        base,
                        f"score {score} (reachable) falls into {what}",
                        f"bands must cover {min(scores)}..{max(scores)} without gaps or overlaps",
                    )
                    break


def _check_reachability(
    menu_file: SourceFile,
    trees: dict[str, Tree],
    tree_files: dict[str, SourceFile],
    out: _Collector,
) -> None:
    menu: MenuFile = menu_file.model  # type: ignore[assignment]
    roots = []
    for name in ("start", "main", "help", "emergency"):
        ref = getattr(menu.menu, name)
        target = parse_ref(ref, "", trees)
        if target is None:
            out.add(
                "error",
                "dangling_reference",
                menu_file,
                ("menu", name),
                f"{ref!r} is not a known node",
                "write tree:node, e.g. main:menu",
            )
        else:
            roots.append(target)
    graph: dict[tuple[str, str], set[tuple[str, str]]] = {}
    for tree in trees.values():
        graph.update(_edges(tree, trees))
    seen = set(roots)
    frontier = list(roots)
    while frontier:
        for target in graph.get(frontier.pop(), set()):
            if target not in seen:
                seen.add(target)
                frontier.append(target)
    for tree in trees.values():
        for i, node in enumerate(tree.nodes):
            if (tree.id, node.id) not in seen:
                out.add(
                    "error",
                    "unreachable_node",
                    tree_files[tree.id],
                    ("tree", "nodes", i),
                    f"node {tree.id}:{node.id} cannot be reached from the menu",
                    "link it from another node's options, or remove it",
                )


# --- across languages ----------------------------------------------------------------------------


def _signature(value: Any, key: str | None = None) -> Any:
    """The language-independent shape of a value: texts become a placeholder."""
    if key in TEXT_KEYS and value is not None and not (key == "name" and isinstance(value, list)):
        return "<text>"
    if isinstance(value, dict):
        if set(value) == {"fallback"}:
            return "<text>"
        return {k: _signature(v, k) for k, v in value.items() if k not in FREE_KEYS}
    if isinstance(value, list):
        return [_signature(v) for v in value]
    return value


def _file_signature(source: SourceFile) -> Any:
    """The file's shape; a menu's language code and own name differ by design."""
    signature = _signature(source.data)
    if source.relative == "menu.yaml":
        signature.pop("language", None)
        signature.pop("name", None)
    return signature


def _first_difference(a: Any, b: Any, path: Path_ = ()) -> tuple[Path_, Any, Any] | None:
    if isinstance(a, dict) and isinstance(b, dict):
        for k in list(a) + [k for k in b if k not in a]:
            found = _first_difference(a.get(k), b.get(k), (*path, k))
            if found:
                return found
        return None
    if isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            found = _first_difference(
                a[i] if i < len(a) else None, b[i] if i < len(b) else None, (*path, i)
            )
            if found:
                return found
        return None
    return None if a == b else (path, a, b)


def _check_structure(loaded: LoadedContent, out: _Collector) -> None:
    by_file: dict[str, dict[str, SourceFile]] = defaultdict(dict)
    for source in loaded.files:
        by_file[source.relative][source.lang] = source
    unreadable = {p.file for p in loaded.problems}
    for relative, versions in sorted(by_file.items()):
        reference_lang = next(lang for lang in LANGUAGES if lang in versions)
        reference = versions[reference_lang]
        ref_sig = _file_signature(reference)
        for lang in LANGUAGES:
            translated = versions.get(lang)
            if translated is None:
                display = reference.display.replace(f"/{reference_lang}/", f"/{lang}/", 1)
                if display not in unreadable:
                    out.problems.append(
                        Problem(
                            "error",
                            "missing_file",
                            display,
                            "",
                            f"{relative} exists in {reference_lang} but not in {lang}",
                            f"translate {reference.display} into {display}",
                        )
                    )
                continue
            if lang == reference_lang:
                continue
            diff = _first_difference(ref_sig, _file_signature(translated))
            if diff is None:
                continue
            path, expected, actual = diff
            if expected == "<text>" and actual is None:
                out.add(
                    "error",
                    "missing_translation",
                    translated,
                    path,
                    f"text present in {reference_lang} is missing in {lang}",
                    f"translate it, or write {{fallback: {reference_lang}}} to show the "
                    f"{reference_lang} text until it is translated",
                )
            else:
                out.add(
                    "error",
                    "structure_mismatch",
                    translated,
                    path,
                    f"differs from {reference.display}: {reference_lang} has "
                    f"{_short(expected)}, {lang} has {_short(actual)}",
                    "ids, node types, targets, weights and countries must be the same in "
                    "every language; only texts differ",
                )


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _walk_fallbacks(value: Any, path: Path_ = ()) -> list[tuple[Path_, str]]:
    if isinstance(value, dict):
        if set(value) == {"fallback"}:
            return [(path, str(value["fallback"]))]
        return [f for k, v in value.items() for f in _walk_fallbacks(v, (*path, k))]
    if isinstance(value, list):
        return [f for i, v in enumerate(value) for f in _walk_fallbacks(v, (*path, i))]
    return []


def _check_fallbacks(loaded: LoadedContent, out: _Collector) -> None:
    by_key = {(f.lang, f.relative): f for f in loaded.files}
    for source in loaded.files:
        for path, target_lang in _walk_fallbacks(source.data):
            target = by_key.get((target_lang, source.relative))
            value: Any = target.data if target else None
            for part in path:
                value = _get(value, part)
            if target_lang == source.lang or not isinstance(value, str):
                out.add(
                    "error",
                    "fallback_missing",
                    source,
                    path,
                    f"falls back to {target_lang}, which has no text here",
                    "fall back to a language that has this text",
                )
            else:
                out.add(
                    "warning",
                    "untranslated",
                    source,
                    path,
                    f"not translated into {source.lang}: shows the {target_lang} text",
                    "translate it and remove the fallback marker",
                )


def _get(value: Any, part: str | int) -> Any:
    if isinstance(value, dict):
        return value.get(part)
    if isinstance(value, list) and isinstance(part, int) and part < len(value):
        return value[part]
    return None


__all__ = ["Report", "build_bundle", "check_directory", "validate"]

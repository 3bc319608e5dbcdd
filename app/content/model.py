"""Published content in memory: a bundle (JSON, as stored per version) compiled for fast lookup.

The bundle holds every language as written, fallback markers included. Compiling resolves each
``{fallback: xx}`` marker to the text at the same path in language ``xx`` and indexes trees,
nodes and articles, so the engine does dictionary lookups only.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter

from app.content.schema import (
    LANGUAGES,
    Answer,
    Article,
    Contact,
    Menu,
    Node,
    Option,
    Topic,
    Tree,
)

NodeRef = tuple[str, str]  # (tree id, node id)
_node_adapter: TypeAdapter[Node] = TypeAdapter(Node)


def short_key(text: str) -> str:
    """A short stable key (8 hex digits) used in button data instead of long ids."""
    return hashlib.blake2b(text.encode(), digest_size=4).hexdigest()


def option_key(option: Option | Answer, index: int) -> str:
    """The key of a button: what it does, so a stale button still means the same thing."""
    if isinstance(option, Answer):
        return short_key(f"answer|{index}|{option.weight}|{option.goto}")
    return short_key(f"option|{option.goto}|{option.set_country or ''}")


def parse_ref(ref: str, current_tree: str, trees: dict[str, Tree]) -> NodeRef | None:
    """Resolve `node`, `tree:node` or `tree:` against the trees; None when it leads nowhere."""
    if ":" in ref:
        tree_id, node_id = ref.split(":", 1)
    else:
        tree_id, node_id = current_tree, ref
    tree = trees.get(tree_id or current_tree)
    if tree is None:
        return None
    node_id = node_id or tree.start
    if not any(node.id == node_id for node in tree.nodes):
        return None
    return (tree.id, node_id)


@dataclass
class LanguageContent:
    lang: str
    name: str
    menu: Menu
    topics: dict[str, Topic]
    trees: dict[str, Tree]
    contacts: list[Contact]
    articles: dict[str, Article] = field(default_factory=dict)
    article_topic: dict[str, str] = field(default_factory=dict)
    nodes: dict[NodeRef, Node] = field(default_factory=dict)
    # Articles showing some text of another language (an explicit fallback marker).
    untranslated: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        for topic in self.topics.values():
            for article in topic.articles:
                self.articles[article.id] = article
                self.article_topic[article.id] = topic.id
        for tree in self.trees.values():
            for node in tree.nodes:
                self.nodes[(tree.id, node.id)] = node

    def resolve(self, ref: str, current_tree: str = "") -> NodeRef | None:
        return parse_ref(ref, current_tree, self.trees)


@dataclass
class Content:
    """One published content version, compiled."""

    version: int
    checksum: str
    languages: dict[str, LanguageContent]
    node_by_key: dict[str, NodeRef] = field(default_factory=dict)
    key_by_node: dict[NodeRef, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        # Keys are computed from ids, so they are the same in every language and every version.
        first = next(iter(self.languages.values()))
        for ref in first.nodes:
            key = short_key(f"{ref[0]}:{ref[1]}")
            self.node_by_key[key] = ref
            self.key_by_node[ref] = key

    def lang(self, lang: str | None) -> LanguageContent:
        if lang is not None and lang in self.languages:
            return self.languages[lang]
        return next(iter(self.languages.values()))


def has_fallback(value: Any) -> bool:
    """Whether a raw content value holds a fallback marker anywhere inside."""
    if isinstance(value, dict):
        return set(value) == {"fallback"} or any(has_fallback(v) for v in value.values())
    if isinstance(value, list):
        return any(has_fallback(v) for v in value)
    return False


def resolve_fallbacks(
    value: Any,
    langs: dict[str, dict[str, Any]],
    path: tuple[Any, ...] = (),
    seen: frozenset[str] = frozenset(),
) -> Any:
    """Replace every fallback marker with the value at the same path in the named language."""
    if isinstance(value, dict):
        if set(value) == {"fallback"}:
            lang = value["fallback"]
            if lang in seen:
                raise ValueError(f"fallback loop at {path}")
            target: Any = langs[lang]
            for part in path:
                target = target[part]
            return resolve_fallbacks(target, langs, path, seen | {lang})
        return {k: resolve_fallbacks(v, langs, (*path, k), seen) for k, v in value.items()}
    if isinstance(value, list):
        return [resolve_fallbacks(v, langs, (*path, i), seen) for i, v in enumerate(value)]
    return value


def compile_bundle(bundle: dict[str, Any], version: int, checksum: str) -> Content:
    """Build the in-memory content from a stored bundle (already validated when it was stored)."""
    raw_langs: dict[str, dict[str, Any]] = bundle["languages"]
    languages: dict[str, LanguageContent] = {}
    for lang in LANGUAGES:
        if lang not in raw_langs:
            continue
        raw = raw_langs[lang]
        data = resolve_fallbacks(raw, raw_langs, seen=frozenset({lang}))
        languages[lang] = LanguageContent(
            lang=lang,
            name=data["name"],
            menu=Menu.model_validate(data["menu"]),
            topics={t["id"]: Topic.model_validate(t) for t in data["topics"]},
            trees={t["id"]: Tree.model_validate(t) for t in data["trees"]},
            contacts=[Contact.model_validate(c) for c in data["contacts"]],
            untranslated={
                article["id"]
                for topic in raw["topics"]
                for article in topic["articles"]
                if has_fallback(article)
            },
        )
    return Content(version=version, checksum=checksum, languages=languages)

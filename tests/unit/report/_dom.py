"""A small element tree of a rendered page, enough to read what a reader sees in it."""

from __future__ import annotations

from dataclasses import dataclass, field
from html.parser import HTMLParser

VOID = {"meta", "br", "rect", "line", "polygon", "path", "img", "hr", "input"}


@dataclass
class El:
    tag: str
    attrs: dict[str, str]
    children: list[El | str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text for c in self.children)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())

    def find(self, tag: str, cls: str | None = None, **attrs: str) -> list[El]:
        """Every descendant with this tag (and class, and attribute values)."""
        out = []
        for c in self.children:
            if isinstance(c, str):
                continue
            ok = c.tag == tag and (cls is None or cls in c.classes())
            ok = ok and all(c.attrs.get(k.replace("_", "-")) == v for k, v in attrs.items())
            if ok:
                out.append(c)
            out += c.find(tag, cls, **attrs)
        return out


class _Builder(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.root = El("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        el = El(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(el)
        if tag not in VOID:
            self.stack.append(el)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(El(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        if tag in VOID:
            return
        while len(self.stack) > 1:
            if self.stack.pop().tag == tag:
                break

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)


def dom(data: bytes | str) -> El:
    b = _Builder()
    b.feed(data.decode("utf-8") if isinstance(data, bytes) else data)
    return b.root

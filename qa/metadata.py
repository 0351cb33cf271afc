"""A report's metadata: YAML front matter and sidecars read safely, each field checked.

Metadata comes from people and from scraped pages, so every read is bounded (`Limits`): a
front matter block or sidecar is at most `metadata_bytes`, a field at most `field_chars`, and
YAML aliases (`*name`, which let a few hundred bytes expand into gigabytes) are refused. Dates
stay text while YAML is read (its own timestamps raise on `2019-13-45`) and are then read by
`qa.dates.parse_date`, one definition for every way in: a date that is not a real day is refused
by name.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Any

from .dates import parse_date
from .text import one_line

#: Keys accepted in front matter, sidecars and collection rows, and the field each one fills.
FIELD_KEYS = {
    "id": "doc_id",
    "doc_id": "doc_id",
    "title": "title",
    "source": "source",
    "outlet": "source",
    "publisher": "source",
    "date": "date",
    "published": "date",
    "place": "place",
    "location": "place",
    "url": "url",
    "link": "url",
}
FIELD_NAMES = {"doc_id": "id", "source": "outlet"}  # how a field is named in messages
_DECLARED_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")


@dataclass(frozen=True)
class Limits:
    """How much one read may hold; the settings of the same names (max_file_bytes, ...)."""

    file_bytes: int = 25_000_000  # a file, an upload, one row of a collection
    report_chars: int = 1_000_000  # the text of one report
    field_chars: int = 1_000  # one metadata field (title, outlet, date, place, url, id)
    metadata_bytes: int = 65_536  # a front matter block or a sidecar

    @property
    def row_chars(self) -> int:
        """The longest row of a collection worth reading: a whole report and its fields."""
        return min(self.file_bytes, self.report_chars + 8 * self.field_chars)


def load_yaml(text: str, limits: Limits) -> Any:
    """Parse a metadata block, refusing aliases, over-long blocks and deep nesting.

    Raises:
        ValueError: naming the problem (the caller adds the file).
    """
    import yaml

    size = len(text.encode("utf-8", errors="surrogatepass"))
    if size > limits.metadata_bytes:
        raise ValueError(f"it is {size:,} bytes; the limit is {limits.metadata_bytes:,} (setting max_metadata_bytes)")
    try:
        return yaml.load(text, Loader=_loader())  # noqa: S506 - a SafeLoader without aliases or timestamps
    except RecursionError:
        raise ValueError("it is nested too deeply") from None
    except yaml.YAMLError as exc:
        raise ValueError(f"not valid YAML: {exc}".splitlines()[0]) from exc


_LOADER: Any = None


_PLAIN_TAGS = {f"tag:yaml.org,2002:{name}" for name in ("str", "seq", "map", "null")}


def _loader() -> Any:
    """yaml.SafeLoader for metadata: every value is text as written (`id: 0123` stays "0123",
    `place: NO` stays "NO", `title: 12:30` stays "12:30": YAML 1.1 would make them 83, False
    and 750), lists and mappings are themselves, empty is nothing; no aliases (a 363-byte
    "billion laughs" block would expand into gigabytes) and no other tags (!!binary, !!set,
    !!python/...)."""
    global _LOADER
    if _LOADER is None:
        import yaml

        class MetadataLoader(yaml.SafeLoader):
            def compose_node(self, parent: Any, index: Any) -> Any:
                if self.check_event(yaml.AliasEvent):
                    line = self.peek_event().start_mark.line + 1
                    raise ValueError(f"YAML aliases (*name) are not accepted in metadata (line {line})")
                node = super().compose_node(parent, index)
                if node.tag not in _PLAIN_TAGS:
                    raise ValueError(f"the YAML tag {node.tag!r} is not accepted in metadata (line {node.start_mark.line + 1})")
                return node

        # Only "null" (~, null, nothing) is recognised in plain values; the rest stays text.
        MetadataLoader.yaml_implicit_resolvers = {
            first: [(tag, pattern) for tag, pattern in resolvers if tag == "tag:yaml.org,2002:null"]
            for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
        }
        _LOADER = MetadataLoader
    return _LOADER


def read_fields(meta: dict[str, Any], limits: Limits, lenient_dates: bool = False) -> dict[str, str]:
    """The known fields of a metadata mapping, each one line of text, checked.

    The first key of a field wins (`outlet` before `source` if both are given); unknown keys are
    ignored. A list of plain values is one field ("Idlib, Syria"); a mapping is refused. The date
    is read by `parse_date` (with `lenient_dates`, as for a web page's head, a date that cannot be
    read is dropped instead of refused).

    Raises:
        ValueError: a field is over `field_chars`, not text, a date that is not a day, or a
            declared id with characters ids cannot hold; the message names the field.
    """
    fields: dict[str, str] = {}
    for key, value in meta.items():
        target = FIELD_KEYS.get(str(key).lower())
        if not target or target in fields or value is None or value == "":
            continue
        name = FIELD_NAMES.get(target, target)
        text = _as_text(value, name)
        if len(text) > limits.field_chars:
            raise ValueError(
                f"the {name} is {len(text):,} characters; the limit is {limits.field_chars:,} (setting max_field_chars)"
            )
        if not text:
            continue
        if target == "date":
            try:
                text = parse_date(text)
            except ValueError:
                if lenient_dates:
                    continue
                raise
        elif target == "doc_id" and not _DECLARED_ID.fullmatch(text):
            raise ValueError(f"declared id {text!r} must be letters, digits, '.', '_' or '-' (at most 128)")
        fields[target] = text
    return fields


def _as_text(value: Any, name: str) -> str:
    if isinstance(value, (dt.date, dt.datetime)):
        return value.isoformat()[:10]
    if isinstance(value, dict):
        raise ValueError(f"the {name} must be text, not a mapping")
    if isinstance(value, (list, tuple)):
        if any(isinstance(v, (list, tuple, dict)) for v in value):
            raise ValueError(f"the {name} must be text, not a nested list")
        return ", ".join(one_line(str(v)) for v in value if v is not None and str(v).strip())
    return one_line(str(value))

"""Attribution on real reports: `qa.attribution` against 60 hand-labelled FA-KES sentences.

`eval/attribution_fakes.jsonl` holds 60 sentences drawn with `random.Random(0)` from the FA-KES
reports' sentences that hold "said", "according to", "told" or "reported", each labelled by hand
(before any system was run on them) with its source as written (`source`, null when the sentence
names none), other acceptable names (`alts`) and the form (`before`: "X said ...", `after`:
"... X said", `according`, `pronoun`: "He said", `inverted`: "said X", `embedded`, `none`).
FA-KES text has lost its commas and apostrophes, which makes these harder than edited copy.

A sentence counts as `exact` when the source found is the label (or an alternative), case,
a leading article and surrounding punctuation aside; `partial` when they share a content word;
a sentence labelled with no source is right when none is found. Pronouns are scored as the
sentence alone gives them (no sentence before): the label is the pronoun's referent where the
sentence says it, else none.

    python eval/attribution_check.py [--show]
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter
from pathlib import Path

from qa.attribution import attribution

_STOP = {"the", "a", "an", "of", "for", "and", "in", "on", "to", "said", "says"}


def _norm(text: str) -> str:
    text = " ".join(text.lower().replace("’", "'").split()).strip(" .,;:\"'“”()")
    return re.sub(r"^(?:the|a|an)\s+", "", text)


def _content(text: str) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", text.lower()) if w not in _STOP}


def verdict(found: str | None, source: str | None, alts: list[str | None]) -> str:
    """exact | partial | wrong | missed | none-right | false-source"""
    accepted = [a for a in [source, *alts] if a]
    if found is None:
        return "none-right" if source is None or None in alts else "missed"
    if any(_norm(found) == _norm(a) for a in accepted):
        return "exact"
    if any(_content(found) & _content(a) for a in accepted):
        return "partial"
    return "false-source" if source is None else "wrong"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--labels", type=Path, default=Path(__file__).with_name("attribution_fakes.jsonl"))
    parser.add_argument("--show", action="store_true", help="print every sentence that is not exactly right")
    args = parser.parse_args()
    rows = [json.loads(line) for line in args.labels.read_text(encoding="utf-8").splitlines() if line.strip()]
    counts: Counter[str] = Counter()
    for row in rows:
        found = attribution(row["sentence"])
        result = verdict(found.source if found else None, row["source"], row["alts"])
        counts[result] += 1
        if args.show and result not in ("exact", "none-right"):
            print(f"{result:12} {row['id']} [{row['form']}] found {found.source if found else None!r}, labelled {row['source']!r}\n    {row['sentence']}")
    right = counts["exact"] + counts["none-right"]
    print(f"{args.labels.name}: {len(rows)} sentences; right {right}/{len(rows)} ({right / len(rows):.2f}); " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()

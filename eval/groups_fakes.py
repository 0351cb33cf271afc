"""Measure near-duplicate groups on FA-KES: shingle length, the similarity threshold, the groups.

Reads the collection with the reader `qa ingest` uses (the same documents, ids and fields the
index would store, without embedding them) and signs each text with `qa.groups.signature`.

    PYTHONPATH=. python eval/groups_fakes.py [path/to/fa-kes.csv] [--read 30] [--shingles 3,4,5]

Prints: for each shingle length, the estimated and exact Jaccard of the candidate pairs LSH finds
at a low threshold (0.2), as a histogram; the pairs near the chosen threshold with their exact
Jaccard; the groups at qa.groups.THRESHOLD, their sizes, the chains in them; and `--read` groups
(members' outlet, date, title and the first 200 characters) for a person to judge.
"""

from __future__ import annotations

import argparse
import random
import sys
from collections import Counter
from pathlib import Path

from qa.config import Settings
from qa.documents import collect_files, iter_documents
from qa.groups import PERMUTATIONS, SCHEME, SEED, SHINGLE_WORDS, THRESHOLD, Groups, hash_values, shingles, signature

FAKES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fa-kes.csv"


def load(path: Path) -> dict:
    """doc id -> Document, as an ingest of the collection stores them (a row repeating an
    earlier one in every field is one document)."""
    files, problems = collect_files([path])
    if problems:
        sys.exit(f"cannot read {path}: {problems}")
    docs = {}
    for _, _, doc in iter_documents(files, Settings().limits.read_limits(), None):
        if hasattr(doc, "doc_id"):
            docs.setdefault(doc.doc_id, doc)
    return docs


def exact(a: str, b: str, size: int) -> float:
    sa, sb = shingles(a, size), shingles(b, size)
    return len(sa & sb) / len(sa | sb) if sa | sb else 0.0


def candidate_pairs(docs: dict, size: int) -> list[tuple[float, float, str, str]]:
    """(estimated, exact Jaccard, id, id) of the pairs an LSH at threshold 0.2 proposes."""
    from datasketch import LeanMinHash, MinHash, MinHashLSH

    sketches = {}
    for doc_id, doc in docs.items():
        m = MinHash(num_perm=PERMUTATIONS, seed=SEED, scheme=SCHEME)
        m.update_batch([g.encode() for g in sorted(shingles(doc.text, size))])
        sketches[doc_id] = LeanMinHash(m)
    lsh = MinHashLSH(threshold=0.2, num_perm=PERMUTATIONS)
    for doc_id, m in sketches.items():
        lsh.insert(doc_id, m)
    out = []
    for a, m in sketches.items():
        for b in lsh.query(m):
            if b > a:
                out.append((m.jaccard(sketches[b]), exact(docs[a].text, docs[b].text, size), a, b))
    return sorted(out, reverse=True)


def histogram(values: list[float]) -> str:
    bins = Counter(min(int(v * 10), 9) for v in values)
    return "  ".join(f"{b / 10:.1f}-{(b + 1) / 10:.1f}:{bins.get(b, 0)}" for b in range(2, 10))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=FAKES)
    parser.add_argument("--read", type=int, default=30, help="groups to print for reading")
    parser.add_argument("--shingles", default="3,4,5", help="shingle lengths to compare")
    args = parser.parse_args()
    docs = load(args.path)
    print(f"{len(docs)} documents, {len({d.text for d in docs.values()})} distinct texts, "
          f"{len({d.source for d in docs.values()})} outlets")
    for size in [int(s) for s in args.shingles.split(",")]:
        pairs = candidate_pairs(docs, size)
        print(f"\nshingles of {size} words: {len(pairs)} candidate pairs (LSH at 0.2)")
        print("  estimated:", histogram([p[0] for p in pairs]))
        print("  exact:    ", histogram([p[1] for p in pairs]))
        different = [p for p in pairs if docs[p[2]].text != docs[p[3]].text]
        print(f"  pairs with different texts: {len(different)}; exact Jaccard of those >= 0.2:",
              histogram([p[1] for p in different]))
        if size == SHINGLE_WORDS:
            print(f"\n  different-text pairs with estimated Jaccard 0.2-0.9 (threshold {THRESHOLD}):")
            for est, ex, a, b in different:
                if 0.2 <= est < 0.9:
                    da, db = docs[a], docs[b]
                    print(f"    est {est:.3f} exact {ex:.3f}  {da.source}/{da.date} {da.title[:50]!r}  |  "
                          f"{db.source}/{db.date} {db.title[:50]!r}")
    sigs = {doc_id: (signature(doc.text), {"date": doc.date}) for doc_id, doc in docs.items()}
    groups = Groups(sigs)
    multi = groups.groups()
    sizes = Counter(len(g) for g in multi)
    print(f"\nat threshold {THRESHOLD}, shingles of {SHINGLE_WORDS}: {len(groups)} groups for {len(docs)} documents; "
          f"{len(multi)} groups of 2+ holding {sum(len(g) for g in multi)} documents; sizes {dict(sorted(sizes.items()))}")
    same_text = sum(1 for g in multi if len({docs[i].text for i in g}) == 1)
    print(f"  groups whose members all have one text: {same_text}; with differing texts: {len(multi) - same_text}")
    chains = []
    for g in multi:
        first = hash_values(sigs[g[0]][0])
        far = [i for i in g[1:] if float((hash_values(sigs[i][0]) == first).mean()) < THRESHOLD]
        if far:
            chains.append((g, far))
    print(f"  groups with a member not near the group's first (chains): {len(chains)}")
    for g, far in chains:
        print("   ", [f"{docs[i].source}/{docs[i].date}" for i in g], "far:", [f"{docs[i].source}/{docs[i].date}" for i in far])
    picked = multi if len(multi) <= args.read else random.Random(16).sample(multi, args.read)
    # Differing texts first: they are where the threshold is tested.
    picked.sort(key=lambda g: len({docs[i].text for i in g}) == 1)
    print(f"\n{len(picked)} groups to read:")
    for n, g in enumerate(picked, 1):
        first = hash_values(sigs[g[0]][0])
        print(f"\n[{n}] {len(g)} reports, {len({docs[i].text for i in g})} distinct texts")
        for i in g:
            d = docs[i]
            est = float((hash_values(sigs[i][0]) == first).mean())
            print(f"  - {d.source} | {d.date} | est {est:.2f} | exact {exact(docs[g[0]].text, d.text, SHINGLE_WORDS):.2f} | {d.title}")
            print(f"    {' '.join(d.text.split())[:200]}")


if __name__ == "__main__":
    main()

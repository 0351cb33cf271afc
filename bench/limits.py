"""What the ingest limits bound: each case in a fresh process, its wall time, peak memory and index size.

    python bench/limits.py [report_at_limit] [field_10mb] [alias_bomb]

- report_at_limit: one report of max_report_chars (1,000,000) characters of FA-KES text;
- field_10mb: a CSV whose one field is 10 MB (refused row by row) beside a small row;
- alias_bomb: a .md whose front matter is a 363-byte YAML alias bomb (refused).

Memory is the process's peak RSS, next to its RSS once the model has loaded. Needs
../shared/data/fa-kes.csv; the figures are in the README (Limits and guarantees).
"""
import subprocess
import sys
import textwrap
from pathlib import Path

CHILD = textwrap.dedent(r'''
import csv, json, shutil, sys, tempfile, time
from pathlib import Path
from qa import Assistant
case = sys.argv[1]
def peak_mb():  # VmHWM, not getrusage: ru_maxrss survives exec and would report the parent's peak
    return int(open("/proc/self/status").read().split("VmHWM:")[1].split()[0]) / 1024
d = Path(tempfile.mkdtemp())
rows = list(csv.DictReader(open(sys.argv[2], encoding="utf-8", newline="")))
def fakes_text(n):
    t, i = "", 0
    while len(t) < n:
        t += rows[i % len(rows)]["article_content"] + "\n\n"; i += 1
    return t[:n]
if case == "report_at_limit":
    (d / "big.txt").write_text(fakes_text(1_000_000)); inputs = [d / "big.txt"]
elif case == "field_10mb":
    with (d / "one.csv").open("w", newline="") as out:
        w = csv.writer(out); w.writerow(["text", "title"]); w.writerow([fakes_text(10_000_000), "Huge"]); w.writerow(["Aid reached Saraqib on Sunday.", "Small"])
    inputs = [d / "one.csv"]
elif case == "alias_bomb":
    lines = ["a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"] + [
        f"{chr(98+n)}: &{chr(98+n)} [{', '.join(['*' + chr(97+n)] * 9)}]" for n in range(6)] + ["title: *g"]
    (d / "bomb.md").write_text("---\n" + "\n".join(lines) + "\n---\nShelling hit Ariha.\n"); inputs = [d / "bomb.md"]
a = Assistant(index_dir=d / "idx", auto_ingest_corpus=False)
a.embedder.warm_up()
base = peak_mb()
t = time.perf_counter(); r = a.ingest(inputs); ingest_s = time.perf_counter() - t
t = time.perf_counter(); a.ask("How many civilians were killed?"); ask_s = time.perf_counter() - t
peak = peak_mb()
size = sum(f.stat().st_size for f in (d / "idx").rglob("*") if f.is_file()) / 1e6
print(json.dumps({"case": case, "summary": r.summary(), "failed": [f.error[-120:] for f in r.failed],
    "ingest_s": round(ingest_s, 1), "first_ask_s": round(ask_s, 2), "rss_after_model_mb": round(base), "rss_peak_mb": round(peak), "index_mb": round(size, 1)}))
a.store.reopen()
shutil.rmtree(d, ignore_errors=True)
''')
FAKES = Path(__file__).resolve().parents[2] / "shared" / "data" / "fa-kes.csv"
for case in sys.argv[1:] or ["report_at_limit", "field_10mb", "alias_bomb"]:
    out = subprocess.run([sys.executable, "-c", CHILD, case, str(FAKES)], capture_output=True, text=True)
    print(out.stdout.strip() or out.stderr[-2000:], flush=True)

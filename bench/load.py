"""Many clients asking a running app (`qa serve`) at once, from a process of their own.

    python bench/load.py URL KIND [--users 20] [--each 25] [--rate R --seconds S] [--server-pid PID]

KIND: `api`, the JSON route POST /api/ask (qa.ui.api), or `gradio`, Gradio's REST API for the
same /ask endpoint (POST /gradio_api/call/ask, then its event stream), each user with its own
session as gradio_client keeps one. Without --rate, USERS users ask back to back (closed loop),
EACH questions each; with --rate, questions arrive at random at R a second (Poisson, open loop)
for S seconds, whatever the answers take. The clients are asyncio tasks over kept-alive HTTP
connections (httpx), so that they cost the shared CPU little: their CPU time is reported.

Prints one JSON object: questions, errors, qps, p50_ms, p95_ms, client_cpu_ms_per_q and, with
--server-pid, server_cpu_ms_per_q.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import statistics
import time
import uuid
from typing import Any

# The questions, asked in process by bench/run.py too: answerable and not, in each mode, with filters.
LOAD_QUESTIONS: list[dict[str, Any]] = [
    {"question": "How many civilians were killed in Maarat al Numan on Wednesday?"},
    {"question": "Which monitor reported the deaths in Maarat al Numan?"},
    {"question": "How many people have been displaced since the offensive began?", "top_k": 3},
    {"question": "Which countries agreed in 2017 to make Idlib a de-escalation zone?", "mode": "dense"},
    {"question": "How many people were killed in the bomb attack in Aleppo?"},
    {"question": "What did the Syrian Observatory for Human Rights report?", "mode": "bm25"},
    {"question": "Which town was hit by Russian airstrikes?", "place": "Idlib"},
    {"question": "When did the chemical attack in Khan Sheikhoun happen?", "date_from": "2017"},
    {"question": "How many were killed in Aleppo?", "date_to": "2016"},
    {"question": "Who won the 2018 World Cup final?"},
    {"question": "What is the capital of Australia?", "mode": "dense"},
    {"question": "How many shops were destroyed in Zarzour?", "top_k": 4},
]

ORDER = ["question", "top_k", "mode", "source", "place", "date_from", "date_to", "history", "undated", "by_source"]
DEFAULTS: dict[str, Any] = {"top_k": 5, "mode": "hybrid", "undated": False, "by_source": False}
TICK = os.sysconf("SC_CLK_TCK")


def cpu_s(pid: int | None = None) -> float:
    """CPU seconds (user + system) of this process, or of another by its pid."""
    if pid is None:
        t = os.times()
        return t.user + t.system
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICK


async def ask(client: Any, kind: str, question: dict[str, Any], session: str) -> dict[str, Any]:
    if kind == "api":
        response = await client.post("/api/ask", json=question)
        response.raise_for_status()
        return response.json()
    body = {"data": [question.get(k, DEFAULTS.get(k)) for k in ORDER], "session_hash": session}
    response = await client.post("/gradio_api/call/ask", json=body)
    response.raise_for_status()
    event = None
    async with client.stream("GET", f"/gradio_api/call/ask/{response.json()['event_id']}") as stream:
        async for line in stream.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(line)
                return json.loads(line[5:])[0]
    raise RuntimeError("the event stream ended without an answer")


async def run(
    url: str, kind: str, users: int, each: int, rate: float | None, seconds: float, server_pid: int | None
) -> dict[str, Any]:
    import httpx

    latencies: list[float] = []
    errors: list[str] = []
    limits = httpx.Limits(max_connections=4 * users, max_keepalive_connections=4 * users)
    async with httpx.AsyncClient(base_url=url, timeout=600, limits=limits) as client:
        sessions = [uuid.uuid4().hex for _ in range(users)]

        async def one(n: int, question: dict[str, Any]) -> None:
            sent = time.perf_counter()
            try:
                answer = await ask(client, kind, question, sessions[n % users])
                if "answer" not in answer:
                    raise RuntimeError(f"not an answer: {str(answer)[:200]}")
            except Exception as exc:  # every error is counted and shown
                errors.append(repr(exc)[:300])
            else:
                latencies.append(time.perf_counter() - sent)

        for n in range(users):  # connections open and sessions known before the clock starts
            await one(n, LOAD_QUESTIONS[n % len(LOAD_QUESTIONS)])
        latencies.clear()
        started_cpu, started = cpu_s(), time.perf_counter()
        server_started = cpu_s(server_pid) if server_pid else 0.0
        if rate is None:

            async def user(n: int) -> None:
                for i in range(each):
                    await one(n, LOAD_QUESTIONS[(n + i) % len(LOAD_QUESTIONS)])

            await asyncio.gather(*(user(n) for n in range(users)))
        else:
            pick, tasks, n = random.Random(7), [], 0
            while time.perf_counter() - started < seconds:
                tasks.append(asyncio.create_task(one(n, LOAD_QUESTIONS[n % len(LOAD_QUESTIONS)])))
                n += 1
                await asyncio.sleep(pick.expovariate(rate))
            await asyncio.gather(*tasks)
        wall = time.perf_counter() - started
        client_cpu = cpu_s() - started_cpu
        server_cpu = cpu_s(server_pid) - server_started if server_pid else None
    cuts = statistics.quantiles(latencies, n=100, method="inclusive") if len(latencies) > 1 else latencies * 99
    return {
        "kind": kind,
        "users": users,
        "rate": rate,
        "questions": len(latencies),
        "errors": len(errors),
        "first_errors": errors[:3],
        "seconds": round(wall, 2),
        "qps": round(len(latencies) / wall, 2),
        "p50_ms": round(cuts[49] * 1000, 1),
        "p95_ms": round(cuts[94] * 1000, 1),
        "client_cpu_ms_per_q": round(1000 * client_cpu / max(1, len(latencies)), 2),
        "server_cpu_ms_per_q": None if server_cpu is None else round(1000 * server_cpu / max(1, len(latencies)), 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("url")
    parser.add_argument("kind", choices=["api", "gradio"])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--each", type=int, default=25)
    parser.add_argument("--rate", type=float, default=None, help="questions a second, arriving at random (open loop)")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--server-pid", type=int, default=None)
    args = parser.parse_args()
    result = asyncio.run(
        run(args.url.rstrip("/"), args.kind, args.users, args.each, args.rate, args.seconds, args.server_pid)
    )
    print(json.dumps(result))


if __name__ == "__main__":
    main()

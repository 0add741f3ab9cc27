"""A bounded load test of the portal on loopback: `compliance serve` with W workers over a
generated portfolio, C concurrent keep-alive clients for S seconds, each request one of the
portfolio page, a deployment page and the gate API (in turn, deployments chosen at random).
Prints and writes p50/p95/p99 latencies per kind, throughput and every error.

    python -m benchmarks.web_load --deployments 1000 --clients 50 --seconds 30 --workers 2
    python -m benchmarks.web_load --pg-url postgresql://postgres@127.0.0.1:5432/postgres ...

Only 127.0.0.1 is ever contacted; every loop is bounded in time and count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchmarks import generate

AS_OF = "2026-12-31"
MAX_REQUESTS = 1_000_000  # a bound on the whole run, whatever the duration


@dataclass
class Tally:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    requests: int = 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, path: str, token: str
) -> tuple[int, bytes]:
    writer.write(
        f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        "Connection: keep-alive\r\n\r\n".encode()
    )
    await writer.drain()
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {k.lower(): v.strip() for k, _, v in (ln.partition(":") for ln in lines[1:] if ln)}
    if "content-length" in headers:
        body = await reader.readexactly(int(headers["content-length"]))
    else:  # chunked
        chunks = []
        while True:
            size = int((await reader.readline()).strip(), 16)
            if size == 0:
                await reader.readline()
                break
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        body = b"".join(chunks)
    return status, body


async def _client(
    port: int, token: str, keys: list[str], until: float, tally: Tally, seed: int
) -> None:
    rng = random.Random(seed)
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    kinds = ("portfolio", "deployment", "gate")
    turn = seed % 3
    try:
        while time.monotonic() < until and tally.requests < MAX_REQUESTS:
            kind = kinds[turn % 3]
            turn += 1
            key = rng.choice(keys)
            path = {
                "portfolio": f"/portfolio?as_of={AS_OF}",
                "deployment": f"/deployments/{key}?as_of={AS_OF}",
                "gate": f"/api/deployments/{key}/gate?as_of={AS_OF}",
            }[kind]
            start = time.perf_counter()
            try:
                status, body = await _get(reader, writer, path, token)
            except (OSError, asyncio.IncompleteReadError, ValueError) as exc:
                tally.errors.append(f"{path}: {type(exc).__name__}: {exc}")
                writer.close()
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                continue
            elapsed = time.perf_counter() - start
            tally.requests += 1
            if status != 200 or not body:
                tally.errors.append(f"{path}: HTTP {status}")
                continue
            tally.latencies.setdefault(kind, []).append(elapsed)
    finally:
        writer.close()


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _wait(url: str, proc: subprocess.Popen[bytes], seconds: float = 120) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the server exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2):  # loopback only
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{url} did not answer")


def _cli(db_url: str, store: Path, *args: str, stdin: str | None = None) -> str:
    exe = Path(sys.executable).with_name("compliance")
    done = subprocess.run(
        [str(exe), "--db", db_url, "--evidence-dir", str(store), *args],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"compliance {' '.join(args)}: {done.stderr or done.stdout}")
    return done.stdout


def run(args: argparse.Namespace) -> dict[str, Any]:
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    portfolio = work / f"portfolio-{args.deployments}x{args.assessments}"
    if not (portfolio / ".complete").exists():
        generate.write_portfolio(portfolio, args.deployments, args.assessments)
        (portfolio / ".complete").write_text("")
    run_dir = work / f"run-{uuid.uuid4().hex[:8]}"
    run_dir.mkdir()
    store = run_dir / "evidence-store"
    created_db = None
    if args.pg_url:
        import sqlalchemy

        name = f"webload_{uuid.uuid4().hex[:8]}"
        admin = sqlalchemy.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
        admin.dispose()
        db_url = args.pg_url.rsplit("/", 1)[0] + "/" + name
        created_db = name
    else:
        db_url = f"sqlite:///{run_dir / 'compliance.db'}"
    proc = None
    try:
        t0 = time.monotonic()
        _cli(db_url, store, "db", "upgrade")
        _cli(db_url, store, "import", "-q", str(portfolio))
        imported = time.monotonic() - t0
        _cli(
            db_url,
            store,
            "users",
            "add",
            "load-test",
            "--role",
            "viewer",
            "--password-stdin",
            stdin="load test password\n",
        )
        token = _cli(db_url, store, "users", "token", "load-test").strip()
        keys = sorted(p.name for p in portfolio.iterdir() if p.is_dir())
        port = _free_port()
        exe = Path(sys.executable).with_name("compliance")
        proc = subprocess.Popen(
            [
                str(exe),
                "--db",
                db_url,
                "--evidence-dir",
                str(store),
                "serve",
                "--port",
                str(port),
                "--workers",
                str(args.workers),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        _wait(f"http://127.0.0.1:{port}/login", proc)
        warmed = 0.0
        if args.warmup:
            # The portfolio decided once in every worker (a few requests at once reach each),
            # as a portal that has been up for a while has it: the run then measures the steady
            # state for it, while deployment pages and decisions stay cold (random deployments).
            async def one() -> None:
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                try:
                    await _get(reader, writer, f"/portfolio?as_of={AS_OF}", token)
                finally:
                    writer.close()

            async def warm() -> float:
                # Until a round of requests (several per worker) all come back from the cache:
                # which worker takes a connection is the kernel's choice. Bounded in rounds.
                started = time.monotonic()
                for _round in range(20):
                    begun = time.monotonic()
                    await asyncio.gather(*(one() for _ in range(args.workers * 4)))
                    if time.monotonic() - begun < 2.0:
                        break
                return time.monotonic() - started

            warmed = asyncio.run(warm())
        tally = Tally()

        async def main() -> float:
            until = time.monotonic() + args.seconds
            started = time.monotonic()
            await asyncio.gather(
                *(_client(port, token, keys, until, tally, i) for i in range(args.clients))
            )
            return time.monotonic() - started

        elapsed = asyncio.run(main())
        result: dict[str, Any] = dict(
            backend="postgresql" if args.pg_url else "sqlite",
            deployments=args.deployments,
            assessments_each=args.assessments,
            clients=args.clients,
            seconds=args.seconds,
            workers=args.workers,
            import_seconds=round(imported, 1),
            warmup_seconds=round(warmed, 1),
            load_average=[round(x, 2) for x in os.getloadavg()],
            requests=tally.requests,
            throughput=round(tally.requests / elapsed, 1),
            errors=len(tally.errors),
            error_samples=tally.errors[:10],
            kinds={
                kind: dict(
                    n=len(v),
                    p50_ms=round(statistics.median(v) * 1000, 1),
                    p95_ms=round(_pct(v, 0.95) * 1000, 1),
                    p99_ms=round(_pct(v, 0.99) * 1000, 1),
                    max_ms=round(max(v) * 1000, 1),
                )
                for kind, v in sorted(tally.latencies.items())
            },
        )
        return result
    finally:
        if proc is not None:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if created_db:
            import sqlalchemy

            admin = sqlalchemy.create_engine(args.pg_url, isolation_level="AUTOCOMMIT")
            with admin.connect() as conn:
                conn.execute(
                    sqlalchemy.text(f'DROP DATABASE IF EXISTS "{created_db}" WITH (FORCE)')
                )
            admin.dispose()
        if not args.keep:
            shutil.rmtree(run_dir, ignore_errors=True)


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{result['backend']}: {result['deployments']} deployments x {result['assessments_each']} "
        f"assessments, {result['clients']} clients for {result['seconds']} s, "
        f"{result['workers']} workers: {result['requests']} requests, {result['throughput']}/s, "
        f"{result['errors']} errors (load average at the end {result['load_average']})",
        "",
        "| request | n | p50 | p95 | p99 | max |",
        "|---|---|---|---|---|---|",
    ]
    for kind, k in result["kinds"].items():
        lines.append(
            f"| {kind} | {k['n']} | {k['p50_ms']} ms | {k['p95_ms']} ms | {k['p99_ms']} ms | {k['max_ms']} ms |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--deployments", type=int, default=1000)
    parser.add_argument("--assessments", type=int, default=2)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--pg-url", default=os.environ.get("COMPLIANCE_TEST_PG_URL"))
    parser.add_argument(
        "--sqlite", action="store_true", help="SQLite even if a PostgreSQL URL is set"
    )
    parser.add_argument("--workdir", default="out/bench/web")
    parser.add_argument("--keep", action="store_true", help="Keep the run's database and store")
    parser.add_argument(
        "--no-warmup",
        dest="warmup",
        action="store_false",
        help="Start measuring with every cache of the server empty",
    )
    parser.add_argument("-o", "--output", help="Write the result as JSON here too")
    args = parser.parse_args(argv)
    if args.sqlite:
        args.pg_url = None
    result = run(args)
    print(table(result))
    if args.output:
        Path(args.output).write_text(json.dumps(result, indent=2) + "\n")
    return result


if __name__ == "__main__":
    main()

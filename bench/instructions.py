"""Instructions and system calls per request, side by side: tinyweb, nginx and Go/echo.

    python3 bench/instructions.py [--requests N] [--servers tinyweb,nginx,go] [--markdown]
    python3 bench/instructions.py --breakdown [--tinyweb build/bin/tinyweb-debug]
    python3 bench/instructions.py --quick   tinyweb and nginx, N=200, with sanity checks (CI)

Wall-clock figures on a shared 2-core machine are noisy; instruction counts are not. Each server
runs under `valgrind --tool=callgrind` twice: one keep-alive connection sends N requests
(`GET / HTTP/1.1`, wrk's request line and Host) one after the other, then 4N in a fresh run.
Start-up, the readiness probe and shutdown are the same in both runs, so
(Ir(4N) − Ir(N)) / 3N is what one more request costs in user space. System calls likewise under
`strace -c -f`: (calls(4N) − calls(N)) / 3N, per system call.

Every server logs each request as it ships (tinyweb: pretty_env_logger on stderr, `RUST_LOG=info`;
nginx: its `combined` access log; Go/echo: echo's Logger middleware on stdout), all to /dev/null.

`--breakdown` attributes tinyweb's instructions per request (a build with symbols: the
`debuginfo` profile) from `callgrind_annotate --inclusive=yes` of both runs, to warp's filters,
hyper, the access log's formatting, tokio's scheduling, the service wrapper and the rest.

Runs itself in a private network namespace (`unshare --net`, loopback only), so fixed ports
(Go's 8000) meet nothing else on the machine.
"""

import argparse
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

sys.dont_write_bytecode = True
import nginx  # noqa: E402
from bare import bring_loopback_up  # noqa: E402
from probe import only_child  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
PORT = 8000  # Go/echo's is hard-coded; one server runs at a time
START_DEADLINE_S = 120.0  # valgrind starts Go's runtime slowly
STOP_DEADLINE_S = 120.0
HELLO = b"Hello, World!"
REQUEST = f"GET / HTTP/1.1\r\nHost: 127.0.0.1:{PORT}\r\n\r\n".encode()

# tinyweb's breakdown, by where the code executed comes from: each instruction's source file
# (inlined code keeps its own file), matched in this order; code from core, alloc and std that
# was inlined (generic helpers) goes by the function it was inlined into. Exclusive costs, so the
# rows add up to the total.
SOURCES = [
    (
        "access log: env_logger/pretty_env_logger, humantime, log, std::fmt and io",
        r"/(env_logger|pretty_env_logger|humantime|log|itoa)-[\d.]+/|/core/src/fmt/|/std/src/io/"
        r"|src/(routes|access_line)\.rs$",
        r"^(core::fmt|<core::fmt|<f64|<&T as core::fmt|env_logger|<env_logger|pretty_env_logger"
        r"|std::io::Write|<std::io|log::|<?tinyweb::access_line)",
    ),
    ("warp's filters and replies", r"/warp-[\d.]+/", r"warp::"),
    (
        "hyper: HTTP/1 parsing, the answer's head and body, the connection (hyper, hyper-util, "
        "http, httparse, bytes)",
        r"/(hyper|hyper-util|http|http-body|http-body-util|httparse|bytes|httpdate)-[\d.]+/",
        r"^(<?hyper|<?http::|<http::|<?bytes::)",
    ),
    (
        "the service wrapper and registry (tinyweb::service, host, connections, notice, "
        "header_timer, tokio-io-timeout)",
        r"src/(service|host|connections|notice|header_timer|server)\.rs$|/tokio-io-timeout-[\d.]+/",
        r"^<?tinyweb::(service|host|connections|notice|header_timer)",
    ),
    (
        "tokio: scheduling, the I/O driver, timers (tokio, mio)",
        r"/(tokio|mio)-[\d.]+/",
        r"^(<?tokio::|<?mio::)",
    ),
    (
        "allocator and memcpy (musl mallocng, alloc)",
        r"/src_musl/src/(malloc|string)/|/alloc/src/",
        r"^(malloc|free|__libc_malloc|__libc_free|__rust_alloc|__rustc::)",
    ),
]
REST = "the rest (core, std, musl's system call wrappers, …)"

# Functions that are real symbols (not inlined) and whose inclusive cost says what a whole part
# of the request path costs, nested: the task's poll holds hyper's poll_write, which holds the
# routes and the access log.
INCLUSIVE = [
    ("tokio: one poll of a task", "tokio::runtime::task::raw::poll"),
    ("hyper: Dispatcher::poll_write (runs the service and writes the answer)",
     "hyper::proto::h1::dispatch::Dispatcher<D,Bs,I,T>::poll_write"),
    ("hyper: Server::recv_msg (the head parsed into a Request, the service called)",
     "<hyper::proto::h1::dispatch::Server<S,hyper::body::incoming::Incoming> as "
     "hyper::proto::h1::dispatch::Dispatch>::recv_msg"),
    ("the access log line (log::__private_api::log_impl: filter, format and write)",
     "log::__private_api::log_impl"),
    ("  of which pretty_env_logger's format (level, timestamp, target)",
     "pretty_env_logger::formatted_timed_builder::{{closure}}"),
    ("hyper's header-read timer, moved to each request's deadline (tinyweb::header_timer)",
     "<tinyweb::header_timer::HeaderTimer as hyper::rt::timer::Timer>::sleep_until"),
    ("allocator: malloc", "malloc"),
    ("allocator: free", "free"),
]
# The quick run's sanity bounds: outside them the measurement, not the server, is broken (a
# request not answered, a run that did not stop, counts from the wrong process).
SANE_INSTRUCTIONS = (1_000, 60_000)
SANE_SYSCALLS = (3.5, 4.5)  # read, write the answer, write the log line, epoll; a few mmaps

ANNOTATED = re.compile(r"^\s*([\d,]+)\s+\([^)]*\)\s+(\S+?\.(?:rs|c|h|s|S)|\?\?\?):(.*?)(?: \[(.*)\])?$")


def server_commands(which, tinyweb, go, work):
    """argv and environment of each server, listening on 127.0.0.1:PORT."""
    if which == "tinyweb":
        env = {"HOST": "127.0.0.1", "PORT": str(PORT), "RUST_LOG": "info"}
        return [str(tinyweb)], env
    if which == "nginx":
        return nginx.command(PORT, prefix=work / "nginx"), {}
    if which == "go":
        # Valgrind 3.19's callgrind aborts on the signals Go's asynchronous preemption sends
        # (an assertion in vgCallgrind_post_signal); one goroutine per connection needs none.
        return [str(go)], {"GODEBUG": "asyncpreemptoff=1"}
    raise ValueError(which)


def connect_when_ready(process, deadline_s):
    """A connection once the server accepts, or None past the deadline or if it exited."""
    started = time.monotonic()
    while time.monotonic() - started < deadline_s and process.poll() is None:
        try:
            return socket.create_connection(("127.0.0.1", PORT), timeout=30)
        except OSError:
            time.sleep(0.05)
    return None


def read_answer(conn, pending):
    """Reads one answer (Content-Length framed) from conn: (status, body, leftover, closing)."""
    data = pending
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed before an answer's head")
        data += chunk
    head, _, rest = data.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = re.search(rb"(?im)^content-length:\s*(\d+)\s*$", head)
    if not length:
        raise RuntimeError(f"answer without Content-Length: {head!r}")
    size = int(length.group(1))
    while len(rest) < size:
        chunk = conn.recv(65536)
        if not chunk:
            raise RuntimeError("connection closed inside an answer's body")
        rest += chunk
    closing = re.search(rb"(?im)^connection:\s*close\s*$", head) is not None
    return status, rest[:size], rest[size:], closing


def connect():
    conn = socket.create_connection(("127.0.0.1", PORT), timeout=30)
    conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return conn


def drive(process, requests):
    """The readiness probe (one request on its own connection, the same in every run), then
    `requests` keep-alive requests one at a time on one connection, each checked. A server that
    closes a connection after so many requests (nginx's `keepalive_requests`, 1 000 by default)
    says so with `Connection: close`; the client then opens another, as wrk would."""
    probe = connect_when_ready(process, START_DEADLINE_S)
    if probe is None:
        raise RuntimeError(
            f"server exited ({process.returncode}) or did not accept within {START_DEADLINE_S} s"
        )
    with probe:
        probe.sendall(REQUEST)
        status, body, _, _ = read_answer(probe, b"")
        if (status, body) != (200, HELLO):
            raise RuntimeError(f"probe answered {status} {body!r}")
    conn, pending = connect(), b""
    try:
        for _ in range(requests):
            conn.sendall(REQUEST)
            status, body, pending, closing = read_answer(conn, pending)
            if (status, body) != (200, HELLO):
                raise RuntimeError(f"answered {status} {body!r}")
            if closing:
                conn.close()
                conn, pending = connect(), b""
    finally:
        conn.close()
    # Let the server see the close before it is stopped, in every run alike.
    time.sleep(0.5)


def run_under(prefix, which, requests, args, work):
    """Runs one server under `prefix` (valgrind or strace), drives `requests`, stops it with
    SIGTERM and waits for it."""
    argv, env = server_commands(which, args.tinyweb, args.go, work)
    process = subprocess.Popen(
        [*prefix, *argv],
        env={"PATH": os.environ.get("PATH", "/usr/bin:/bin"), **env},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=work,
    )
    try:
        drive(process, requests)
    finally:
        # Under strace the server is strace's child: signal it, and strace then reports.
        server = only_child(process.pid) if prefix[0] == "strace" else process.pid
        os.kill(server, signal.SIGTERM)
        try:
            process.wait(STOP_DEADLINE_S)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            print(f"instructions: {which} ({prefix[0]}, {requests}) did not stop within {STOP_DEADLINE_S} s", file=sys.stderr)


def callgrind(which, requests, args, work):
    """Total instructions (Ir) of one run, and the callgrind output file."""
    out = work / f"callgrind.{which}.{requests}"
    prefix = [
        "valgrind",
        "--tool=callgrind",
        f"--callgrind-out-file={out}",
        f"--log-file={out}.log",
    ]
    run_under(prefix, which, requests, args, work)
    text = out.read_text(errors="replace")
    total = re.search(r"^totals:\s+(\d+)", text, re.M)
    if not total:
        raise RuntimeError(f"no total in {out}; see {out}.log")
    return int(total.group(1)), out


def strace(which, requests, args, work):
    """Calls per system call of one run."""
    out = work / f"strace.{which}.{requests}"
    run_under(["strace", "-c", "-f", "-o", str(out)], which, requests, args, work)
    calls = {}
    for line in out.read_text().splitlines():
        fields = line.split()
        if len(fields) >= 5 and re.fullmatch(r"[\d.]+", fields[0]) and fields[-1] != "total":
            calls[fields[-1]] = int(fields[3])
    return calls


def measure(which, args, work):
    n = args.requests
    low, _ = callgrind(which, n, args, work)
    high, _ = callgrind(which, 4 * n, args, work)
    calls_low = strace(which, n, args, work)
    calls_high = strace(which, 4 * n, args, work)
    per_call = {
        name: (calls_high.get(name, 0) - calls_low.get(name, 0)) / (3 * n)
        for name in set(calls_low) | set(calls_high)
    }
    per_call = {k: round(v, 3) for k, v in sorted(per_call.items()) if abs(v) >= 0.005}
    return {
        "ir": {"n": low, "4n": high},
        "instructions_per_request": (high - low) / (3 * n),
        "syscalls_per_request": round(sum(per_call.values()), 3),
        "syscalls": per_call,
    }


def annotate(path, inclusive):
    """[(file, function, is the symbol's own entry, Ir)] from callgrind_annotate."""
    done = subprocess.run(
        [
            "callgrind_annotate",
            "--auto=no",
            "--threshold=100",
            f"--inclusive={'yes' if inclusive else 'no'}",
            str(path),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = []
    for line in done.stdout.splitlines():
        match = ANNOTATED.match(line)
        if match:
            cost, file, function, obj = match.groups()
            rows.append((file, function, obj is not None, int(cost.replace(",", ""))))
    return rows


def by_source(rows):
    groups = {label: 0 for label, _, _ in SOURCES}
    groups[REST] = 0
    for file, function, _, cost in rows:
        label = next((lb for lb, files, _ in SOURCES if re.search(files, file)), None)
        if label is None:
            label = next((lb for lb, _, names in SOURCES if re.search(names, function)), REST)
        groups[label] += cost
    return groups


def by_symbol(rows):
    """Inclusive cost of each symbol: its own entry (the one callgrind_annotate tags with the
    object file); the other entries of a name are inlined code's share of it."""
    costs = {}
    for _, function, own, cost in rows:
        if own:
            costs[function] = max(costs.get(function, 0), cost)
    return costs


def breakdown(args, work):
    """tinyweb's instructions per request by source and by nested symbol, both runs' difference."""
    n = args.requests
    low_total, low = callgrind("tinyweb", n, args, work)
    high_total, high = callgrind("tinyweb", 4 * n, args, work)

    def per_request(a, b):
        return {k: (b.get(k, 0) - a.get(k, 0)) / (3 * n) for k in {**a, **b}}

    sources = per_request(by_source(annotate(low, False)), by_source(annotate(high, False)))
    symbols = per_request(by_symbol(annotate(low, True)), by_symbol(annotate(high, True)))
    return {
        "instructions_per_request": (high_total - low_total) / (3 * n),
        "by_source": [{"where": label, "instructions": sources[label]} for label in sources],
        "inclusive": [
            {"what": label, "symbol": symbol, "instructions": symbols.get(symbol)}
            for label, symbol in INCLUSIVE
        ],
        "top_inclusive": sorted(symbols.items(), key=lambda kv: -kv[1])[: args.top],
    }


def grouped(x):
    return f"{x:,.0f}".replace(",", " ")


def markdown(results):
    lines = [
        f"Measured {results['date']} with `{results['command']}` ({results['requests']} and "
        f"{4 * results['requests']} keep-alive requests on one connection).",
        "",
    ]
    if results["servers"]:
        lines += [
            "| server | instructions / request | syscalls / request | syscalls per request |",
            "|---|--:|--:|---|",
        ]
    for which, r in results["servers"].items():
        calls = ", ".join(f"{k} {v:.2f}" for k, v in r["syscalls"].items())
        lines.append(
            f"| {which} | {grouped(r['instructions_per_request'])} | "
            f"{r['syscalls_per_request']:.2f} | {calls} |"
        )
    if "breakdown" in results:
        b = results["breakdown"]
        total = b["instructions_per_request"]
        lines += [
            "",
            f"tinyweb ({results['tinyweb']}): {grouped(total)} instructions per request, by the "
            "source the instructions come from (exclusive, adds up):",
            "",
            "| where | instructions / request | share |",
            "|---|--:|--:|",
        ]
        for row in b["by_source"]:
            lines.append(
                f"| {row['where']} | {grouped(row['instructions'])} | "
                f"{row['instructions'] / total:.0%} |"
            )
        lines += [
            "",
            "Inclusive costs of whole parts (`callgrind_annotate --inclusive=yes`, nested):",
            "",
            "| part | symbol | instructions / request |",
            "|---|---|--:|",
        ]
        for row in b["inclusive"]:
            cost = "–" if row["instructions"] is None else grouped(row["instructions"])
            lines.append(f"| {row['what']} | `{row['symbol']}` | {cost} |")
    return "\n".join(lines) + "\n"


def in_private_netns():
    return os.environ.get("TINYWEB_INSTRUCTIONS_NETNS") == os.readlink("/proc/self/ns/net")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=1000, help="N (default 1000)")
    parser.add_argument("--servers", default="tinyweb,nginx,go")
    parser.add_argument(
        "--tinyweb",
        type=Path,
        help="the binary (default: docker/build.sh's build/bin/tinyweb, or its tinyweb-debug, "
        "with symbols, for --breakdown)",
    )
    parser.add_argument("--go", type=Path, default=ROOT / "build/bench/go/go-echo")
    parser.add_argument("--breakdown", action="store_true", help="tinyweb's breakdown only")
    parser.add_argument(
        "--quick", action="store_true", help="tinyweb and nginx, N=200, checked for sanity"
    )
    parser.add_argument("--top", type=int, default=40, help="functions listed by --breakdown")
    parser.add_argument("--markdown", action="store_true", help="print tables, not JSON")
    parser.add_argument("--out", type=Path, help="also write the JSON results here")
    parser.add_argument(
        "--keep", type=Path, help="keep the callgrind and strace outputs in this directory"
    )
    args = parser.parse_args()
    if args.quick:
        args.servers, args.requests = "tinyweb,nginx", 200
    if args.tinyweb is None:
        args.tinyweb = ROOT / ("build/bin/tinyweb-debug" if args.breakdown else "build/bin/tinyweb")
    args.tinyweb, args.go = args.tinyweb.resolve(), args.go.resolve()
    args.keep = args.keep and args.keep.resolve()

    if not in_private_netns():
        done = subprocess.run(
            [
                "unshare",
                "--net",
                "sh",
                "-c",
                'TINYWEB_INSTRUCTIONS_NETNS=$(readlink /proc/self/ns/net) exec "$@"',
                "sh",
                sys.executable,
                "-B",
                *sys.argv,
            ]
        )
        sys.exit(done.returncode)
    bring_loopback_up()

    results = {
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "command": "python3 bench/instructions.py " + " ".join(sys.argv[1:]),
        "requests": args.requests,
        "tinyweb": str(args.tinyweb.relative_to(ROOT) if args.tinyweb.is_relative_to(ROOT) else args.tinyweb),
        "servers": {},
    }
    with tempfile.TemporaryDirectory(prefix="tinyweb-instructions-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        try:
            if args.breakdown:
                results["breakdown"] = breakdown(args, work)
            else:
                for which in args.servers.split(","):
                    print(f"instructions: {which}", file=sys.stderr)
                    results["servers"][which] = measure(which, args, work)
        except (RuntimeError, OSError, subprocess.SubprocessError) as error:
            sys.exit(f"instructions: {error}")
    if args.out:
        args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(markdown(results) if args.markdown else json.dumps(results, indent=1))
    if args.quick:
        problems = insane(results)
        if problems:
            sys.exit("instructions: quick run is not sane:\n  " + "\n  ".join(problems))
        print("instructions: quick run sane: every request answered 200, counts within bounds")


def insane(results):
    problems = []
    for which, r in results["servers"].items():
        low, high = SANE_INSTRUCTIONS
        if not low <= r["instructions_per_request"] <= high:
            problems.append(f"{which}: {r['instructions_per_request']:.0f} instructions per request")
        low, high = SANE_SYSCALLS
        if not low <= r["syscalls_per_request"] <= high:
            problems.append(f"{which}: {r['syscalls_per_request']} system calls per request")
    return problems


if __name__ == "__main__":
    main()

"""The peers measured beside tinyweb's shipped rung in the bare-binary rounds (nginx): the
report's side-by-side section with its reported (not enforced) targets, and the quick run's
checks that the peer really served."""

from figures import wrk_problems

# The rung the peers run beside: the shipped binary (release, stripped, not packed).
BESIDE = "stripped"


def mb(n):
    return f"{n / 1e6:.2f} MB"


def rows(results):
    """(label, bare figures) for tinyweb, each peer and Go/echo, all from the same rounds."""
    both = results["variants"][BESIDE]
    found = [(f"tinyweb ({both['tinyweb']['binary'].rsplit('/', 1)[-1]})", both["tinyweb"]["bare"])]
    for name, figures in sorted(results["peers"].items()):
        found.append((f"{name} ({figures['version']})", figures))
    found.append((f"Go/echo ({both['go']['binary'].rsplit('/', 1)[-1]})", both["go"]["bare"]))
    return found


def targets(results):
    """issue 12's wall-clock targets: (target, measured, met, margin)."""
    tinyweb = results["variants"][BESIDE]["tinyweb"]["bare"]
    go = results["variants"][BESIDE]["go"]["bare"]
    nginx = results["peers"]["nginx"]
    rps = tinyweb["rps"] / nginx["rps"]
    p99 = tinyweb["p99_s"] / nginx["p99_s"]
    idle = tinyweb["idle"]["VmRSS"] / nginx["idle"]["VmRSS"]
    go_rps = tinyweb["rps"] / go["rps"]
    return [
        ("req/s ≥ nginx's (access logs on for both)", f"{rps:.2f}×", rps >= 1.0, f"{rps - 1:+.0%}"),
        ("p99 no worse than nginx's", f"{p99:.2f}×", p99 <= 1.0, f"{1 - p99:+.0%}"),
        ("req/s 2× Go/echo's", f"{go_rps:.2f}×", go_rps >= 2.0, f"{go_rps - 2:+.2f}×"),
        ("idle RSS beside nginx's (for scale)", f"{idle:.2f}×", idle <= 1.0, "–"),
    ]


def section(results):
    """The report's markdown section, or nothing if no peer was measured."""
    if not results.get("peers"):
        return []
    rounds = results["meta"]["params"]["rounds"]
    lines = [
        "## tinyweb, nginx and Go/echo, side by side",
        "",
        f"Bare binaries in the same alternating rounds ({rounds} × "
        f"{results['meta']['params']['duration_s']} s, `wrk -t1 "
        f"-c{results['meta']['params']['connections']}` on CPU 1, each server pinned to CPU 0), "
        "every access log on and written to /dev/null: nginx is Debian's, one process "
        "(`master_process off`, `worker_processes 1`) with its own prefix and configuration "
        '(bench/nginx.py: `location = / { return 200 "Hello, World!"; }`, `combined` access log). '
        "Medians of the rounds. CPU per request: the server's user and kernel CPU time "
        "(/proc/PID/stat) over each round, divided by its requests (wrk's req/s × the round's length).",
        "",
        "| server | req/s | p50 | p99 | CPU per request: user + kernel | idle RSS | RSS after load "
        "| req/s per round |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for label, f in rows(results):
        per_round = ", ".join(f"{r['rps']:.0f}" for r in f["rounds"])
        cpu = f"{f['user_s_per_request'] * 1e6:.2f} + {f['system_s_per_request'] * 1e6:.2f} µs"
        lines.append(
            f"| {label} | {f['rps']:.0f} | {f['p50_s'] * 1e3:.2f} ms | {f['p99_s'] * 1e3:.2f} ms | "
            f"{cpu} | {mb(f['idle']['VmRSS'])} | {mb(f['after_load']['VmRSS'])} | {per_round} |"
        )
    lines += [
        "",
        "Targets against the peers (reported, not enforced: wall-clock figures on a shared machine "
        "are noisy; bench/instructions.py gives the deterministic instruction counts):",
        "",
        "| target | tinyweb / peer | met | margin |",
        "|---|--:|:-:|--:|",
    ]
    for target, measured, met, margin in targets(results):
        lines.append(f"| {target} | {measured} | {'met' if met else '**missed**'} | {margin} |")
    return lines + [""]


def problems(results, out):
    """What must hold in any run: each peer measured, served without wrk errors, reported."""
    found = []
    if "nginx" not in results.get("peers", {}):
        return ["nginx was not measured beside tinyweb"]
    report = (out / "report.md").read_text()
    for name, figures in results["peers"].items():
        if not figures["rounds"]:
            found.append(f"{name}: no rounds")
        for run in figures["rounds"]:
            found += wrk_problems(name, run)
        if f"{name} (" not in report:
            found.append(f"report.md does not show {name}")
    return found

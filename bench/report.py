"""Renders bench/results.json as the markdown report: the article's size table extended with run
time, the side-by-side throughput, every tinyweb/Go ratio, the targets and what UPX costs."""

import peers
from figures import FIGURES

REFERENCE_BYTES = 968_212_150
ARTICLE_ROWS = [  # the article's own table, quoted
    ("golang:1.16", "yes", "no", 968_212_150),
    ("scratch + tini", "yes", "no", 8_799_493),
    ("scratch + tini", "no", "no", 6_559_840),
    ("scratch + tini", "no", "yes", 2_567_632),
]
SIDES = (("go", "Go/echo"), ("tinyweb", "tinyweb"))


def grouped(n):
    return f"{n:,}".replace(",", " ")


def percent(n):
    return f"{n / REFERENCE_BYTES * 100:.3f} %"


def ms(s, digits=1):
    return "–" if s is None else f"{s * 1e3:.{digits}f} ms"


def mb(n):
    return "–" if n is None else f"{n / 1e6:.2f} MB"


def times(r):
    return "–" if r is None else f"{r:.2f}×"


def value(v, unit):
    if v is None:
        return "–"
    if unit == "bytes":
        return grouped(v)
    if unit == "s":
        return ms(v, 2)
    return f"{v:.0f}"


def yes_no(flag):
    return "yes" if flag else "no"


def entries(results):
    for variant, both in results["variants"].items():
        for side, _ in SIDES:
            if side in both:
                yield variant, side, both[side]


def header(results):
    meta = results["meta"]
    m, t = meta["machine"], meta["tools"]
    return [
        "# tinyweb benchmark: the article's image ladder beside its Go/echo server",
        "",
        f"Measured {meta['date']} with `{meta['command']}` ({meta['mode']} run, "
        f"{meta['seconds']} s of which {meta['build_seconds']} s building, revision "
        f"{meta['revision']}, tinyweb images from "
        f"{meta['source']}) on {m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB, "
        f"Linux {m['kernel']}, Docker {t['docker']}. {t['go']}, echo {t['echo']} (Debian); "
        f"{t['upx']}; {t['wrk']}; {t['rustc']}.",
        "",
        "![sizes, start-up and memory](chart.svg)",
        "",
    ]


def size_table(results):
    lines = [
        "## Image sizes, in the article's format",
        "",
        "Percentages are of the article's `golang` image, quoted (it cannot be rebuilt without a "
        "registry). Rows in italics are the article's own, quoted; the others are measured here.",
        "",
        "| Image | Debug info | UPX | Size (bytes) | Percentage | `docker save \\| gzip -6` "
        "(bytes) | Server binary (bytes) |",
        "|---|:-:|:-:|--:|--:|--:|--:|",
    ]
    for name, debug, upx, size in ARTICLE_ROWS:
        lines.append(
            f"| *{name} (article, quoted)* | *{debug}* | *{upx}* | *{grouped(size)}* | "
            f"*{percent(size)}* | | |"
        )
    naive = results["naive_image_bytes"]
    if naive is None:
        lines.append("| tinyweb:naive | yes | no | Nix only, not built here | | | |")
    else:
        lines.append(f"| tinyweb:naive | yes | no | {grouped(naive)} | {percent(naive)} | | |")
    for _, _, e in entries(results):
        lines.append(
            f"| {e['image']} | {yes_no(e['debug_info'])} | {yes_no(e['upx'])} | "
            f"{grouped(e['sizes']['image_bytes'])} | {percent(e['sizes']['image_bytes'])} | "
            f"{grouped(e['sizes']['gzip_tar_bytes'])} | {grouped(e['binary_bytes'])} |"
        )
    return lines + [""]


def limit_cell(limit):
    if limit.get("serves_after_load"):
        return "yes, also after load"
    if limit.get("serves"):
        return "yes, not after load"
    return "no, OOM-killed" if limit.get("oom_killed") else "no"


def runtime_table(results):
    n = results["meta"]["params"]["starts"]
    lines = [
        "## Run time per image",
        "",
        f"Start-ups: median (p90) of {n} starts. Memory of the bare binary (VmRSS; the anonymous "
        "part, RssAnon, in brackets) after 10 requests and after the wrk rounds below; "
        "container peak is the container's memory cgroup peak (page cache included) under one wrk "
        "run. `--memory=6m` is Docker's minimum limit; the wrk run under it uses "
        f"{results['meta']['params'].get('limit_connections', 64)} connections, fewer than the "
        "connection cap the images derive there. docker stop: until the command returns "
        "(what a user waits for), and until the exit Docker recorded (without its clean-up).",
        "",
        "| Image | docker run → 200 | exec → 200 | idle RSS (anon) | RSS after load | "
        "container peak | serves under --memory=6m | docker stop | → exited | stop exit code | "
        "bare SIGTERM → exit (code) |",
        "|---|--:|--:|--:|--:|--:|:-:|--:|--:|:-:|--:|",
    ]
    for _, _, e in entries(results):
        run, boot, stop = e["docker"]["run_to_200_s"], e["bare"]["startup"], e["docker"]["stop_s"]
        idle, after = e["bare"]["idle"], e["bare"]["after_load"]
        lines.append(
            f"| {e['image']} | {ms(run['median'])} ({ms(run['p90'])}) | "
            f"{ms(boot['median'], 2)} ({ms(boot['p90'], 2)}) | "
            f"{mb(idle['VmRSS'])} ({mb(idle['RssAnon'])}) | {mb(after['VmRSS'])} | "
            f"{mb(e['load']['after_load']['cgroup_peak_bytes'])} | "
            f"{limit_cell(e['memory_limit'])} | {ms(stop['median'])} ({ms(stop['p90'])}) | "
            f"{ms(e['docker']['stop_to_exit_s']['median'])} | "
            f"{', '.join(map(str, e['docker']['stop_exit_codes']))} | "
            f"{ms(boot['sigterm_exit_s']['median'], 2)} "
            f"({', '.join(map(str, boot['sigterm_exit_codes']))}) |"
        )
    return lines + [""]


def throughput_table(results):
    p = results["meta"]["params"]
    lines = [
        "## Throughput and latency, bare binaries side by side",
        "",
        f"Server pinned to CPU 0, `wrk -t1 -c{p['connections']} -d{p['duration_s']}s --latency` "
        f"pinned to CPU 1, {p['rounds']} round(s) per server alternating tinyweb and Go after a "
        f"{p['warmup_s']} s warm-up each; medians of the rounds. Access logging on for both.",
        "",
        "| Rung | tinyweb req/s | Go req/s | ratio | tinyweb p50 / p99 | Go p50 / p99 | p99 ratio "
        "| rounds, req/s (tinyweb; Go) |",
        "|---|--:|--:|--:|--:|--:|--:|---|",
    ]
    for variant, both in results["variants"].items():
        f = results["figures"][variant]
        tw = both["tinyweb"]["bare"]
        go = both["go"]["bare"] if "go" in both else None
        rounds = "; ".join(
            ", ".join(f"{r['rps']:.0f}" for r in side["rounds"]) if side else "–"
            for side in (tw, go)
        )
        go_cells = (
            f"{go['rps']:.0f}", f"{ms(go['p50_s'], 2)} / {ms(go['p99_s'], 2)}"
        ) if go else ("– (no such rung)", "–")
        lines.append(
            f"| {variant} | {tw['rps']:.0f} | {go_cells[0]} | {times(f['rps']['ratio'])} | "
            f"{ms(tw['p50_s'], 2)} / {ms(tw['p99_s'], 2)} | {go_cells[1]} | "
            f"{times(f['p99']['ratio'])} | {rounds} |"
        )
    return lines + [""]


def ratio_table(results):
    variants = list(results["variants"])
    lines = [
        "## tinyweb / Go, every figure, from the same run",
        "",
        "Each cell: tinyweb value / Go value (ratio). Bytes in bytes, times in ms.",
        "",
        "| Figure | " + " | ".join(variants) + " |",
        "|---|" + "--:|" * len(variants),
    ]
    for key, label, unit, _ in FIGURES:
        cells = []
        for variant in variants:
            f = results["figures"][variant][key]
            cells.append(
                f"{value(f['tinyweb'], unit)} / {value(f['go'], unit)} ({times(f['ratio'])})"
            )
        lines.append("| " + label.replace("|", "\\|") + " | " + " | ".join(cells) + " |")
    return lines + [""]


def margin(target):
    m, unit = target["margin"], target["unit"]
    if m is None:
        return "–"
    if unit == "bytes":
        return f"{'+' if m >= 0 else '−'}{grouped(abs(m))} bytes ({m / target['limit']:+.1%})"
    if unit == "s":
        return f"{m * 1e3:+.0f} ms"
    return f"{m:+.2f}×"


def targets_table(results):
    lines = [
        "## Targets",
        "",
        "Margin: how far inside (+) or outside (−) the limit the measured value is.",
        "",
        "| Target | Measured | Met | Margin | Detail |",
        "|---|--:|:-:|--:|---|",
    ]
    for t in results["targets"]:
        measured = (
            grouped(t["measured"])
            if t["unit"] == "bytes"
            else ms(t["measured"])
            if t["unit"] == "s"
            else times(t["measured"])
        )
        lines.append(
            f"| {t['target']} | {measured} | {'met' if t['met'] else '**missed**'} | "
            f"{margin(t)} | {t['detail']} |"
        )
    return lines + [""]


def upx_section(results):
    lines = [
        "## What UPX costs",
        "",
        "The tiniest rung against the one it packs (tinyweb: minimal; Go: stripped), same run. "
        "UPX unpacks the program "
        "into anonymous memory at every start: the start-up pays for decompression, and the "
        "code pages become private memory instead of shareable, evictable page cache.",
        "",
        "| Server | packed rung | bytes saved (image) | exec → 200 | docker run → 200 | "
        "idle RSS, anonymous | container peak | serves under --memory=6m |",
        "|---|---|--:|--:|--:|--:|--:|:-:|",
    ]
    for side, label in SIDES:
        packed = "minimal" if side in results["variants"].get("minimal", {}) else "stripped"
        s = results["variants"][packed][side]
        t = results["variants"]["tiniest"][side]
        saved = s["sizes"]["image_bytes"] - t["sizes"]["image_bytes"]
        lines.append(
            f"| {label} | {packed} | {grouped(saved)} | {ms(s['bare']['startup']['median'], 2)} → "
            f"{ms(t['bare']['startup']['median'], 2)} | "
            f"{ms(s['docker']['run_to_200_s']['median'])} → "
            f"{ms(t['docker']['run_to_200_s']['median'])} | "
            f"{mb(s['bare']['idle']['RssAnon'])} → {mb(t['bare']['idle']['RssAnon'])} | "
            f"{mb(s['load']['after_load']['cgroup_peak_bytes'])} → "
            f"{mb(t['load']['after_load']['cgroup_peak_bytes'])} | "
            f"{limit_cell(s['memory_limit'])} → {limit_cell(t['memory_limit'])} |"
        )
    return lines + [""]


def method(results):
    meta = results["meta"]
    return [
        "## How it was measured",
        "",
        "- Both servers log every request the way they ship: echo's Logger middleware (a JSON line "
        "on stdout) and tinyweb's access log (pretty_env_logger on stderr, `RUST_LOG=info`). Bare "
        "binaries run with stdin, stdout and stderr opened on /dev/null, so both format and write "
        "every line and the kernel discards it; containers under load run with "
        "`--log-driver none`, which discards both the same way; start-ups use Docker's default "
        "json-file driver, as a user's `docker run` would.",
        "- Bare binaries run inside a private network namespace (`unshare --net`, loopback only), "
        "so the Go server's fixed port 8000 meets nothing else on the machine. Start-up is "
        "`exec` until the first `200` on a fresh `GET /` connection, polled every millisecond; "
        "each process is then stopped with SIGTERM.",
        "- `docker run -d -p 127.0.0.1:PORT:8000` until the first 200 through Docker's port "
        "proxy; then `docker stop` (timed) and its exit code from `docker inspect`.",
        "- Load in containers: `--network none --cpuset-cpus 0`, wrk entered into the container's "
        "network namespace with nsenter and pinned to CPU 1 (no port proxy in the path). The "
        "memory cgroup's peak counts page cache, so a binary's file pages count too. That one wrk "
        "run is there to load the container for its memory peak: it is neither repeated nor "
        "alternated, so read throughput from the bare rounds.",
        f"- Go/echo: {meta['tools']['go']}, echo {meta['tools']['echo']} from Debian, built in "
        "GOPATH mode by `bench/build-go.sh`: `CGO_ENABLED=0` (debug info kept), "
        "`-ldflags='-s -w'`, and that packed with "
        f"`upx {' '.join(meta['go_upx_flags'])}`; tinyweb packed with "
        f"`upx {' '.join(meta['tinyweb_upx_flags'])}`. Every image holds only /bin/tini (the same "
        "static musl tini 0.19.0; UPX-packed in tinyweb:tiniest only, Go's tiniest keeps the "
        "article's recipe) and the server, packed by docker/pack.py's code. tinyweb:minimal "
        "(std rebuilt for size, docker/minimal.sh) has no Go counterpart; tinyweb:tiniest is "
        "minimal packed with UPX.",
        "- Medians and p90s are Python's `statistics` (inclusive quantiles). Raw samples are in "
        "results.json.",
        "",
    ]


def render(results):
    return "\n".join(
        header(results)
        + size_table(results)
        + runtime_table(results)
        + throughput_table(results)
        + peers.section(results)
        + targets_table(results)
        + upx_section(results)
        + ratio_table(results)
        + method(results)
    )

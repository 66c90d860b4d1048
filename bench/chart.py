"""Renders bench/results.json as an SVG chart: image sizes on a log scale, start-up (log scale)
and memory beside them, one row per image; then, when peers were measured, tinyweb's shipped
binary, nginx and Go/echo on one core (req/s, p99, idle memory); the date, machine and command
underneath."""

import math
from xml.sax.saxutils import escape

import peers
from report import REFERENCE_BYTES

COLOURS = {
    "tinyweb": ("#c2410c", "#fdba74"),
    "go": ("#1d4ed8", "#93c5fd"),
    "nginx": ("#15803d", "#86efac"),
    "reference": ("#6b7280", "#d1d5db"),
}
ROW = 26
TOP = 64
LABEL_WIDTH = 150
PANELS = [  # (title, x, width)
    ("Image size, bytes (log)", 160, 300),
    ("Start-up to first 200, ms (log)", 500, 250),
    ("Bare-binary RSS, MB", 790, 190),
]
WIDTH = 1000


def text(x, y, content, size=11, anchor="start", weight="normal", fill="#111827"):
    return (
        f'<text x="{x:.1f}" y="{y:.1f}" font-size="{size}" text-anchor="{anchor}" '
        f'font-weight="{weight}" fill="{fill}">{escape(str(content))}</text>'
    )


def rect(x, y, width, height, fill):
    return (
        f'<rect x="{x:.1f}" y="{y:.1f}" width="{max(width, 0.5):.1f}" height="{height}" '
        f'fill="{fill}"/>'
    )


def log_scale(low, high, x, width):
    span = math.log10(high) - math.log10(low)
    return lambda v: x + width * (math.log10(max(v, low)) - math.log10(low)) / span


def log_axis(low, high, x, width, y_top, y_bottom, label):
    to_x = log_scale(low, high, x, width)
    parts = []
    for exponent in range(round(math.log10(low)), round(math.log10(high)) + 1):
        tick = to_x(10**exponent)
        parts.append(
            f'<line x1="{tick:.1f}" y1="{y_top}" x2="{tick:.1f}" y2="{y_bottom}" stroke="#e5e7eb"/>'
        )
        parts.append(text(tick, y_bottom + 12, label(10**exponent), 9, "middle", fill="#6b7280"))
    return parts


def render(results):
    rows = [("golang:1.16 (article)", "reference", {"size": REFERENCE_BYTES})]
    for both in results["variants"].values():
        for side in ("go", "tinyweb"):
            if side not in both:
                continue
            e = both[side]
            rows.append(
                (
                    e["image"],
                    side,
                    {
                        "size": e["sizes"]["image_bytes"],
                        "run": e["docker"]["run_to_200_s"]["median"] * 1e3,
                        "exec": e["bare"]["startup"]["median"] * 1e3,
                        "idle": e["bare"]["idle"]["VmRSS"] / 1e6,
                        "loaded": e["bare"]["after_load"]["VmRSS"] / 1e6,
                    },
                )
            )
    bottom = TOP + ROW * len(rows)
    one_core = peers.rows(results) if results.get("peers") else []
    one_core_top = bottom + 85  # below the legend
    height = one_core_top + ROW * len(one_core) + 40 if one_core else bottom + 86
    meta = results["meta"]
    machine = meta["machine"]
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif">',
        f'<rect width="{WIDTH}" height="{height}" fill="white"/>',
        text(
            10,
            22,
            "tinyweb vs the article's Go/echo server: every rung of the image ladder",
            15,
            weight="bold",
        ),
    ]
    for title, x, _ in PANELS:
        parts.append(text(x, TOP - 12, title, 11, weight="bold"))

    size_x, size_w = PANELS[0][1], PANELS[0][2]
    start_x, start_w = PANELS[1][1], PANELS[1][2]
    mem_x, mem_w = PANELS[2][1], PANELS[2][2]
    parts += log_axis(
        1e5,
        1e9,
        size_x,
        size_w,
        TOP - 4,
        bottom,
        lambda v: (
            f"{v / 1e9:g} GB" if v >= 1e9 else f"{v / 1e6:g} MB" if v >= 1e6 else f"{v / 1e3:g} kB"
        ),
    )
    parts += log_axis(0.1, 1e4, start_x, start_w, TOP - 4, bottom, lambda v: f"{v:g}")
    mem_max = max(r[2].get("loaded", 0) for r in rows) * 1.15 or 1.0
    size_to_x = log_scale(1e5, 1e9, size_x, size_w)
    start_to_x = log_scale(0.1, 1e4, start_x, start_w)

    for index, (name, side, v) in enumerate(rows):
        y = TOP + index * ROW
        dark, light = COLOURS[side]
        parts.append(text(LABEL_WIDTH, y + 15, name, 11, "end"))
        parts.append(rect(size_x, y + 4, size_to_x(v["size"]) - size_x, 16, dark))
        parts.append(text(size_to_x(v["size"]) + 4, y + 16, f"{v['size']:,}".replace(",", " "), 9))
        if "run" not in v:
            continue
        for offset, key, fill in ((3, "run", dark), (12, "exec", light)):
            end = start_to_x(v[key])
            parts.append(rect(start_x, y + offset, end - start_x, 8, fill))
            parts.append(
                text(
                    end + 3,
                    y + offset + 7,
                    f"{v[key]:.0f}" if v[key] >= 100 else f"{v[key]:.3g}",
                    8,
                )
            )
        for offset, key, fill in ((3, "loaded", light), (12, "idle", dark)):
            end = mem_x + mem_w * v[key] / mem_max
            parts.append(rect(mem_x, y + offset, end - mem_x, 8, fill))
            parts.append(text(end + 3, y + offset + 7, f"{v[key]:.2f}", 8))

    legend_y = bottom + 30
    # One legend entry: a Go and a tinyweb swatch of the given shade, then the label.
    def legend(x, shade, label):
        return [
            rect(x, legend_y - 8, 10, 8, COLOURS["go"][shade]),
            rect(x + 12, legend_y - 8, 10, 8, COLOURS["tinyweb"][shade]),
            text(x + 26, legend_y, label, 9),
        ]

    parts += legend(start_x, 0, "docker run → 200") + legend(start_x + 120, 1, "exec → 200 (medians)")
    parts += legend(mem_x, 0, "idle") + legend(mem_x + 56, 1, "after load")
    if one_core:
        parts += one_core_block(one_core, results["meta"]["params"], one_core_top)
    parts += [
        text(
            10,
            height - 26,
            f"Measured {meta['date']} on {machine['cpu']}, {machine['cores']} "
            f"cores, Linux {machine['kernel']}, Docker {meta['tools']['docker']} "
            f"({meta['mode']} run).",
            10,
            fill="#374151",
        ),
        text(
            10,
            height - 10,
            f"Command: {meta['command']}. The golang row is quoted from the article.",
            10,
            fill="#374151",
        ),
        "</svg>",
    ]
    return "\n".join(parts) + "\n"


def one_core_block(rows, params, top):
    """tinyweb's shipped binary, nginx and Go/echo in the same alternating rounds: median req/s,
    p99 and idle RSS, each on a linear scale from zero, in the image panels' columns."""
    parts = [
        text(
            10,
            top - 30,
            f"One core: bare binaries, server on CPU 0, wrk -t1 -c{params['connections']} on CPU 1, "
            f"access logs on, medians of {params['rounds']} alternating rounds",
            12,
            weight="bold",
        )
    ]
    columns = [  # (title, panel, value of a row's figures, label)
        ("req/s", PANELS[0], lambda f: f["rps"], lambda v: f"{v:,.0f}".replace(",", " ")),
        ("p99, ms", PANELS[1], lambda f: f["p99_s"] * 1e3, lambda v: f"{v:.2f}"),
        ("idle RSS, MB", PANELS[2], lambda f: f["idle"]["VmRSS"] / 1e6, lambda v: f"{v:.2f}"),
    ]
    for title, (_, x, width), value, label in columns:
        parts.append(text(x, top - 12, title, 11, weight="bold"))
        high = max(value(f) for _, f in rows) * 1.15 or 1.0
        for index, (_, f) in enumerate(rows):
            y = top + index * ROW
            end = x + width * value(f) / high
            # tinyweb first, Go/echo last, the peers between (peers.rows).
            side = "tinyweb" if index == 0 else "go" if index == len(rows) - 1 else "nginx"
            parts.append(rect(x, y + 4, end - x, 16, COLOURS[side][0]))
            parts.append(text(end + 4, y + 16, label(value(f)), 9))
    for index, (name, _) in enumerate(rows):
        parts.append(text(LABEL_WIDTH, top + index * ROW + 15, name, 11, "end"))
    return parts

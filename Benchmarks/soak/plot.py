#!/usr/bin/env python3
"""Draws soak.csv (Benchmarks/soak/soak.sh) as a PNG: the hub's RSS and open fds over time,
phases shaded, the warm-up RSS level with its +10 % limit and the fd baseline marked.

Usage: plot.py soak.csv soak.png --rss-warm KIB --fds-baseline N
"""
import argparse
import csv

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("csv")
    p.add_argument("png")
    p.add_argument("--rss-warm", type=float, required=True)
    p.add_argument("--fds-baseline", type=float, required=True)
    args = p.parse_args()
    rows = [r for r in csv.DictReader(open(args.csv)) if r["rss_kib"] and r["fds"]]
    if not rows:
        raise SystemExit("no samples")
    t0 = float(rows[0]["unix_time"])
    t = [float(r["unix_time"]) - t0 for r in rows]
    rss = [float(r["rss_kib"]) / 1024 for r in rows]
    fds = [float(r["fds"]) for r in rows]

    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(10, 6.5))
    colors = {"warmup": "#fde0c5", "load": "#f8c4c4", "settle": "#e2f0d9", "cooldown": "#d9e8f5"}
    start = 0
    for i in range(1, len(rows) + 1):
        if i == len(rows) or rows[i]["phase"] != rows[start]["phase"]:
            phase = rows[start]["phase"]
            end = t[i] if i < len(rows) else t[-1]
            for ax in (top, bottom):
                ax.axvspan(t[start], end, color=colors.get(phase, "#f2f2f2"), lw=0)
            top.text((t[start] + end) / 2, 0.98, phase, transform=top.get_xaxis_transform(),
                     ha="center", va="top", fontsize=8, color="#555")
            start = i
    top.plot(t, rss, marker=".", color="#b22")
    warm = args.rss_warm / 1024
    top.axhline(warm, color="#444", ls="--", lw=1, label=f"after warm-up {warm:.1f} MiB")
    top.axhline(warm * 1.1, color="#b22", ls=":", lw=1, label=f"limit +10 % {warm * 1.1:.1f} MiB")
    top.set_ylabel("RSS (MiB)")
    top.set_ylim(bottom=0)
    top.legend(loc="upper left", fontsize=8)
    bottom.plot(t, fds, marker=".", color="#226")
    bottom.axhline(args.fds_baseline, color="#444", ls="--", lw=1, label=f"baseline {args.fds_baseline:.0f}")
    bottom.set_ylabel("open fds")
    bottom.set_xlabel("seconds")
    bottom.legend(loc="upper left", fontsize=8)
    top.set_title("rill-hub soak (--redis): RSS and open file descriptors every 10 s")
    fig.tight_layout()
    fig.savefig(args.png, dpi=100)
    print(f"plot: {args.png}")


if __name__ == "__main__":
    main()

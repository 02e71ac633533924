"""The plain-text table the benchmarks print their figures in."""


def print_table(header: list[str], rows: list[list[str]]) -> None:
    """Columns as wide as their widest cell, ruled above and below the header and at the end."""
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    line = "  ".join("-" * w for w in widths)
    print(line)
    print("  ".join(h.ljust(w) for h, w in zip(header, widths)))
    print(line)
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))
    print(line, flush=True)

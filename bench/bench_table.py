"""Prints benchmark rows (figure, value, reference, reference value) with their ratio."""


def render(rows, widths=(52, 12, 45, 12)):
    w_fig, w_val, w_ref, w_rv = widths
    lines = [f"{'figure':<{w_fig}} {'value':>{w_val}}  {'reference':<{w_ref}} {'ref value':>{w_rv}} {'ratio':>7}"]
    for what, v, ref, rv in rows:
        ratio = v / rv if rv else float("nan")
        lines.append(f"{what:<{w_fig}} {v:>{w_val}.1f}  {ref:<{w_ref}} {rv:>{w_rv}.1f} {ratio:>7.2f}")
    return "\n".join(lines)


def emit(rows, out_path=None):
    text = render(rows)
    print(text)
    if out_path:
        with open(out_path, "w") as f:
            f.write(text + "\n")

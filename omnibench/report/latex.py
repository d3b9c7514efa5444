"""LaTeX through pandas' Styler: booktabs rules, multi-column headers, best values in bold, a
compilable document.

The document needs only booktabs, amssymb and graphicx (Debian's texlive-latex-base and
texlive-latex-recommended). Each table is shrunk to the line width only when it is wider.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

import numpy as np

from omnibench.report.render import best_mask, display_frame
from omnibench.report.tables import ReportTable

# Escapes first, then the symbols the tables use (pdflatex's utf8 input has none of them).
_SPECIAL = {
    "\\": r"\textbackslash{}",
    "&": r"\&",
    "%": r"\%",
    "$": r"\$",
    "#": r"\#",
    "_": r"\_",
    "{": r"\{",
    "}": r"\}",
    "~": r"\textasciitilde{}",
    "^": r"\textasciicircum{}",
}
_SYMBOLS = {
    "±": r"$\pm$",
    "×": r"$\times$",
    "✓": r"\checkmark{}",
    "✗": r"$\times$",
    "–": "--",
    "—": "---",
    "−": r"$-$",
    "Δ": r"$\Delta$",
    "·": r"$\cdot$",
    "≈": r"$\approx$",
    "†": r"\textsuperscript{\dag}",
    **{sup: rf"\textsuperscript{{{digit}}}" for digit, sup in enumerate("⁰¹²³⁴⁵⁶⁷⁸⁹")},
}
_HYPHENS = "-(?=-)"  # "--limit" would print an en dash: each hyphen before another gets "{}"
_PATTERN = re.compile("|".join([_HYPHENS, *(re.escape(c) for c in (*_SPECIAL, *_SYMBOLS))]))

PREAMBLE = r"""\documentclass[10pt]{article}
\usepackage[T1]{fontenc}
\usepackage[utf8]{inputenc}
\usepackage[margin=2cm]{geometry}
\usepackage{booktabs}
\usepackage{amssymb}
\usepackage{graphicx}
\begin{document}
"""


def escape(text: str) -> str:
    """``text`` as LaTeX: special characters escaped, ±, ×, ✓, ✗, –, Δ as LaTeX symbols, and
    ``--`` kept two hyphens (``-{}-``: LaTeX would join them into an en dash)."""
    return _PATTERN.sub(_replacement, str(text))


def _replacement(match: re.Match[str]) -> str:
    found = match.group(0)
    return "-{}" if found == "-" else _SPECIAL.get(found) or _SYMBOLS[found]


def tabular(table: ReportTable) -> str:
    """The table's ``tabular`` (booktabs rules, multi-column headers, column bests in bold)."""
    frame = display_frame(table)
    mask = best_mask(table).to_numpy()
    styler = frame.style.hide(axis="index").format(escape).format_index(escape, axis=1)
    styler = styler.apply(lambda data: np.where(mask, "textbf:--rwrap;", ""), axis=None)
    align = "ll" + "".join("l" if c.kind == "text" else "r" for c in table.columns)
    text = styler.to_latex(hrules=True, multicol_align="c", column_format=align)
    rules = cmidrules(table)
    if not rules:
        return text
    head, sep, rest = text.partition("\\\\\n")  # after the first header row
    return head + sep + rules + "\n" + rest


def cmidrules(table: ReportTable) -> str:
    """``\\cmidrule`` under each spanning header (e.g. HMDB51 over K=2..16), as booktabs tables
    do."""
    if max((len(c.header) for c in table.columns), default=1) < 2:
        return ""
    rules, start = [], 0
    headers = [c.header[0] for c in table.columns]
    for end in range(1, len(headers) + 1):
        if end == len(headers) or headers[end] != headers[start]:
            if end - start > 1:
                rules.append(f"\\cmidrule(lr){{{start + 3}-{end + 2}}}")
            start = end
    return "".join(rules)


def table_environment(table: ReportTable) -> str:
    """A floating ``table``: caption (the title; suite and table key in a comment), label, the
    tabular (shrunk only if too wide), notes and footer."""
    caption = escape(table.title)
    notes = r"\\ ".join(escape(line) for line in [*table.notes, *table.footer])
    label = re.sub(r"[^A-Za-z0-9:-]", "-", table.name)
    return "\n".join(
        [
            f"% omnibench suite {table.suite}, {table.key}",
            r"\begin{table}[htbp]",
            r"\centering",
            rf"\caption{{{caption}}}",
            rf"\label{{tab:{label}}}",
            r"\resizebox{\ifdim\width>\linewidth\linewidth\else\width\fi}{!}{%",
            tabular(table).rstrip() + "}",
            r"\par\smallskip",
            rf"\parbox{{\linewidth}}{{\footnotesize {notes}}}",
            r"\end{table}",
            "",
        ]
    )


def document(tables: Sequence[ReportTable]) -> str:
    """A complete LaTeX document with every table (compiles with pdflatex as it is)."""
    body = "\n".join(table_environment(t) for t in tables) if tables else "No tables.\n"
    return PREAMBLE + body + "\\end{document}\n"

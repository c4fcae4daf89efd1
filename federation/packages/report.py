"""The package's HTML report: one self-contained page (plots as inline SVG, no external
resources), readable by the receiving site's engineers and by an auditor.
"""

from __future__ import annotations

import base64
import io
from html import escape

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from federation.packages.ranges import CLASSIFICATION_RULE, RANGE_METHOD  # noqa: E402
from federation.packages.rdf import SECTIONS, BuildInfo  # noqa: E402
from federation.packages.sections import Sections  # noqa: E402
from federation.packages.source import TFP, TransferData  # noqa: E402

#: Parameters drawn in the ranges figure (CQAs and CPPs first).
MAX_PLOTTED = 8
_CSS = """
body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1100px;color:#1d2733}
h1{font-size:1.6rem}h2{border-bottom:2px solid #d0d7de;padding-bottom:.2rem;margin-top:2rem}
table{border-collapse:collapse;width:100%;font-size:.85rem;margin:.5rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .4rem;text-align:left;vertical-align:top}
th{background:#f3f5f7}.gap{background:#fff1e6}.high{color:#b42318;font-weight:600}
.medium{color:#b54708}.low{color:#475467}.empty{background:#f9fafb;border-left:4px solid #98a2b3;
padding:.5rem 1rem}.meta td:first-child{width:14rem;color:#475467}figure{margin:1rem 0}
code{font-size:.8rem}
"""


def _svg(figure: plt.Figure) -> str:
    buffer = io.StringIO()
    figure.savefig(buffer, format="svg")
    plt.close(figure)
    text = buffer.getvalue()
    return text[text.index("<svg"):]


def _png(figure: plt.Figure, alt: str) -> str:
    """A PNG embedded as a data URI: much faster than SVG for figures with many axes."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=80)
    plt.close(figure)
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def _short(iri: str) -> str:
    return iri.rstrip("/").rsplit("/", 1)[-1]


def _ranges_figure(data: TransferData, sections: Sections) -> str | None:
    items = [p for p in sections.parameters if p.range.classification in ("CQA", "CPP")]
    items += [p for p in sections.parameters if p not in items]
    items = items[:MAX_PLOTTED]
    if not items:
        return None
    cols = 4
    rows = (len(items) + cols - 1) // cols
    figure, axes = plt.subplots(rows, cols, figsize=(12, 2.4 * rows), squeeze=False)
    good = set(sections.good_batches)
    sending = [b.iri for b in data.site_batches(data.from_site)]
    receiving = [b.iri for b in data.site_batches(data.to_site)]
    for ax, item in zip(axes.flat, items, strict=False):
        r = item.range
        ax.axhspan(r.lower, r.upper, color="#b7e4c7", alpha=.6, label="PAR")
        if r.tolerance_low is not None:
            ax.axhline(r.tolerance_low, color="#52796f", lw=.8, ls="--")
            ax.axhline(r.tolerance_high, color="#52796f", lw=.8, ls="--", label="tolerance")
        for x, (batches, colour) in enumerate(((sending, "#1d3557"), (receiving, "#e76f51"))):
            for marker, chosen in (("o", True), ("x", False)):
                values = [data.features[key] for b in batches
                          if (b in good) == chosen
                          and (key := (b, r.parameter, r.phase, "mean")) in data.features]
                if values:
                    ax.scatter([x] * len(values), values, color=colour, marker=marker, s=18)
        ax.set_xticks([0, 1], [data.from_site, data.to_site])
        ax.set_xlim(-.6, 1.6)
        ax.set_title(f"{r.parameter.removeprefix(TFP)} · {r.phase}\n[{r.classification}] "
                     f"{r.unit}", fontsize=8)
        ax.tick_params(labelsize=7)
    for ax in list(axes.flat)[len(items):]:
        ax.axis("off")
    title = ("Per-phase means: S's batches (o good, x other) and R's, against the proven "
             "acceptable range (band) and tolerance interval (dashed)")
    figure.suptitle(title, fontsize=9)
    figure.subplots_adjust(hspace=.8, wspace=.35, top=1 - .35 / rows)
    return _png(figure, title)


def _whatif_figure(sections: Sections) -> str | None:
    if sections.whatif is None:
        return None
    scenarios = sections.whatif.scenarios
    figure, ax = plt.subplots(figsize=(7, 2.8))
    names = [s.name for s in scenarios]
    medians = [s.titre_median for s in scenarios]
    errors = [[s.titre_median - s.titre_low for s in scenarios],
              [s.titre_high - s.titre_median for s in scenarios]]
    ax.barh(names, medians, xerr=errors, color="#457b9d", capsize=4)
    for site, value in sections.whatif.observed_titre.items():
        if value is not None:
            ax.axvline(value, ls=":", color="#e63946")
            ax.text(value, len(names) - .5, f" observed {site}", fontsize=7, color="#e63946")
    ax.set_xlabel("predicted final titre, g/L (median and range over the design)")
    ax.invert_yaxis()
    figure.subplots_adjust(left=.3, bottom=.2)
    return _svg(figure)  # a few bars: inline SVG stays small and sharp


def _table(headers: list[str], rows: list[list[str]], row_classes: list[str] | None = None
           ) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for i, row in enumerate(rows):
        cls = f' class="{row_classes[i]}"' if row_classes and row_classes[i] else ""
        body.append(f"<tr{cls}>" + "".join(f"<td>{cell}</td>" for cell in row) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _empty(reason: str) -> str:
    return f'<p class="empty">This section is empty: {escape(reason)}</p>'


def render_report(data: TransferData, sections: Sections, info: BuildInfo,
                  empty_reasons: dict[str, str], state: dict[str, object]) -> str:
    """The report as one HTML document."""
    e = escape
    s, r = data.from_site, data.to_site
    parts = [f"<!doctype html><html lang='en'><head><meta charset='utf-8'><title>Knowledge "
             f"package {e(data.process.code)} {e(s)} to {e(r)} v{info.version}</title>"
             f"<style>{_CSS}</style></head><body>",
             f"<h1>Technology-transfer knowledge package: {e(data.process.code)} "
             f"v{e(data.process.version)} from {e(s)} to {e(r)}</h1>",
             _table(["", ""], [
                 ["package", f"<code>{e(info.package)}</code> (version {info.version})"],
                 ["process", f"{e(data.process.label or data.process.code)} · sponsor "
                             f"{e(data.process.sponsor)} · <code>{e(data.process.iri)}</code>"],
                 ["built by", f"{e(info.built_by)} at {e(info.built_at.isoformat())} with "
                              f"twinfed {e(info.software_version)}"],
                 ["federation state", f"{state.get('graphs')} graphs, SHA-256 "
                                      f"<code>{e(str(state.get('graphs_sha256')))}</code>, "
                                      f"latest received {e(str(state.get('latest_received_at')))}"],
                 ["batches", f"{len(data.site_batches(s))} at {e(s)} "
                             f"({len(sections.good_batches)} good: {e(sections.good_rule)}), "
                             f"{len(data.site_batches(r))} at {e(r)}"],
             ]).replace("<table>", "<table class='meta'>", 1)]

    parts.append(f"<h2>{SECTIONS['risks']}</h2>")
    parts.append(_table(["rank", "severity", "risk", "why", "evidence"], [
        [str(i), f"<span class='{k.severity}'>{k.severity}</span>", e(k.title),
         e(k.explanation), f"{len(k.evidence)}: " + ", ".join(
             e(_short(x)) for x in k.evidence[:6]) + (" …" if len(k.evidence) > 6 else "")]
        for i, k in enumerate(sections.risks, start=1)]) if sections.risks
        else _empty("no open risk was found"))

    parts.append(f"<h2>{SECTIONS['process']}</h2>")
    parts.append(_table(["#", "phase", "typical start (h)", "typical end (h)", "set points"], [
        [str(p.order), e(p.name), f"{p.start_h:.1f}", f"{p.end_h:.1f}",
         "; ".join(f"{e(sp[0].removeprefix(TFP))} = {sp[1]:.4g} {e(sp[2])}"
                   for sp in p.set_points) or "–"] for p in sections.recipe]))

    parts.append(f"<h2>{SECTIONS['parameters']}</h2>")
    parts.append(f"<p><b>Method.</b> {e(RANGE_METHOD)}<br><b>Classification.</b> "
                 f"{e(CLASSIFICATION_RULE)}</p>")
    figure = _ranges_figure(data, sections)
    if figure:
        parts.append(f"<figure>{figure}</figure>")
    parts.append(_table(
        ["parameter", "phase", "class", "PAR", "tolerance (95/95)", "unit", "at R (tag, unit)",
         "good batches"],
        [[e(p.range.parameter.removeprefix(TFP)), e(p.range.phase), e(p.range.classification),
          f"{p.range.lower:.4g} – {p.range.upper:.4g}",
          f"{p.range.tolerance_low:.4g} – {p.range.tolerance_high:.4g}"
          if p.range.tolerance_low is not None else "–", e(p.range.unit),
          (f"{e(p.receiving.name)}: {p.receiving.lower:.4g} – {p.receiving.upper:.4g} "
           f"{e(p.receiving.unit)}" if p.receiving and p.receiving.lower is not None
           else (e(p.receiving.name) if p.receiving else "not measured at R")),
          f"{len(p.range.batches)}: " + ", ".join(e(_short(b)) for b in p.range.batches)]
         for p in sections.parameters]) if sections.parameters else _empty(
        "too few good batches at the sending site for a proven acceptable range"))

    parts.append(f"<h2>{SECTIONS['equipment']}</h2>")
    parts.append(_table(["aspect", s, r, "gap", "explanation"], [
        [e(c.aspect), e(c.sending), e(c.receiving), "yes" if c.gap else "no",
         e(c.explanation)] for c in sections.equipment],
        ["gap" if c.gap else "" for c in sections.equipment]))

    parts.append(f"<h2>{SECTIONS['signatures']}</h2>")
    parts.append(_external(sections.signatures.items, empty_reasons.get("signatures")))
    parts.append(f"<h2>{SECTIONS['models']}</h2>")
    parts.append(_external(sections.models.items, empty_reasons.get("models")))

    parts.append(f"<h2>{SECTIONS['whatif']}</h2>")
    if sections.whatif is None:
        parts.append(_empty(empty_reasons.get("whatif", "no prediction")))
    else:
        w = sections.whatif
        figure = _whatif_figure(sections)
        if figure:
            parts.append(f"<figure>{figure}</figure>")
        parts.append(_table(["scenario", "kLa (1/h)", "titre median (g/L)", "range",
                             "lowest DO (%)", "virtual batches", "what"], [
            [e(x.name), f"{x.kla_per_h:.3g}", f"{x.titre_median:.3g}",
             f"{x.titre_low:.3g} – {x.titre_high:.3g}", f"{x.min_do_pct:.0f}",
             str(x.virtual_batches), e(x.description)] for x in w.scenarios]))
        parts.append("<p><b>Recipe from S.</b> " + ", ".join(
            f"{e(k)} = {v:.4g}" for k, v in w.recipe.items()) + "<br><b>Calibration.</b> "
            + e(w.calibration_note) + " " + ", ".join(
                f"{e(k)} = {v:.4g}" for k, v in w.calibration.items())
            + "<br><b>Assumptions.</b> " + "; ".join(e(a) for a in w.assumptions) + "</p>")
    parts.append("<p><small>Every statement in this report is in the package's TriG dataset "
                 "with its PROV-O lineage (prov:wasDerivedFrom the batches, deviation "
                 "records, equipment and tags it rests on).</small></p></body></html>")
    return "\n".join(parts)


def _external(items: tuple[dict, ...], reason: str | None) -> str:
    if not items:
        return _empty(reason or "nothing to report")
    return _table(["item", "definition", "facts", "evidence"], [
        [escape(i["label"]), escape(i.get("definition", "")),
         "<br>".join(f"{escape(k)}: {escape(str(v))}" for k, v in
                     sorted(i.get("facts", {}).items())),
         str(len(i.get("evidence", ())))] for i in items])

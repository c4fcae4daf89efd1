"""``twinfed site softsensor train|apply|list|show|yield``: soft sensors at a site node.

``train`` fits PLS, SVR and gradient boosting on the site's spectra paired with lab values of
a target the user names, picks one by cross-validation grouped by batch, tests it on held-out
batches and stores its model card as a new version. ``apply`` estimates every spectrum of the
process's batches (interval, out-of-domain flag) and checks drift. ``yield`` predicts final
titre (or any quality attribute) of batches from their first X % (early yield prediction).
"""

from __future__ import annotations

import json
from typing import Annotated, Any

import typer
from rich.table import Table

from bioprocess.errors import ValidationError
from bioprocess.models.softsensor import SoftSensorConfig
from site_node.config import SiteSettings
from site_node.db import connect
from twinfed.console import out

softsensor_app = typer.Typer(help="Soft sensors: train on spectra and lab values, apply with "
                                  "applicability domain, model cards, drift; early yield "
                                  "prediction.", no_args_is_help=True)

UriOption = Annotated[str | None, typer.Option("--neo4j-uri", help="bolt URI of the site's "
                                               "Neo4j (default: TWINFED_SITE_NEO4J_URI)")]


def _settings(neo4j_uri: str | None) -> SiteSettings:
    return SiteSettings(**({"neo4j_uri": neo4j_uri} if neo4j_uri else {}))


def _ranges(texts: list[str]) -> tuple[tuple[float, float], ...]:
    ranges = []
    for text in texts:
        try:
            low, high = (float(part) for part in text.split(":"))
        except ValueError as exc:
            raise ValidationError(f"--range must be LOW:HIGH in cm⁻¹ (e.g. 800:1800); got "
                                  f"'{text}'") from exc
        ranges.append((low, high))
    return tuple(ranges)


def print_card(card: dict[str, Any]) -> None:
    """The model card in plain words."""
    m = card["metrics"]
    unit = card.get("unit", "")
    out.rule(f"model card {card.get('model_id', '')} (version {card.get('version', '?')})")
    lines = [
        ("target", f"{card['target']} ({unit}), process {card.get('process', '?')}"),
        ("inputs", card["inputs"]),
        ("preprocessing", card["preprocessing"]),
        ("algorithm", f"{card['algorithm_name']} {json.dumps(card['hyperparameters'])}"),
        ("training", f"{len(card['training_batches'])} batches, {card['n_training_spectra']} "
                     f"spectra: {', '.join(card['training_batches'])}"),
        ("hold-out", f"{len(card['validation_batches'])} batches, "
                     f"{card['n_validation_spectra']} spectra: "
                     f"{', '.join(card['validation_batches'])}"),
        ("cross-validation", f"RMSECV {m['rmsecv']:.3g} {unit}, R² {m['r2cv']:.3f} "
                             f"({m['cv_folds']} folds grouped by batch)"),
        ("hold-out test", f"RMSEP {m['rmsep']:.3g} {unit}, R² {m['r2']:.3f}, bias "
                          f"{m['bias']:+.3g} {unit}; {m['interval_coverage_holdout']:.0%} "
                          f"inside the interval, "
                          f"{m['holdout_out_of_domain_share']:.0%} out of domain"),
        ("uncertainty", f"±{card['prediction_interval']['half_width']:.3g} {unit} "
                        f"({card['prediction_interval']['coverage']:.0%}, "
                        f"{card['prediction_interval']['method']})"),
        ("applicability", card["domain_text"]),
    ]
    for label, text in lines:
        out.print(f"[bold]{label:17}[/] {text}", highlight=False, soft_wrap=True)
    for title, key in (("top drivers", "drivers"), ("assumptions", "assumptions"),
                       ("limitations", "limitations")):
        out.print(f"[bold]{title}[/]", highlight=False)
        for item in card[key]:
            out.print(f"  - {item}", highlight=False, soft_wrap=True)
    alternatives = ", ".join(f"{s['algorithm'].upper()} RMSECV {s['rmsecv']:.3g} / RMSEP "
                             f"{s['rmsep']:.3g}" for s in card["selection"])
    out.print(f"[bold]compared[/]          {alternatives}", highlight=False, soft_wrap=True)
    for event in card.get("drift_events", []):
        out.print(f"[bold red]drift[/]             {event['description']}", highlight=False)


@softsensor_app.command("train")
def train(
    target: Annotated[str, typer.Option(help="lab analyte to estimate (the site's lab code)")],
    process: Annotated[str | None, typer.Option(help="process code (required when the site "
                                                "runs several)")] = None,
    algorithms: Annotated[str, typer.Option(help="comma-separated: pls, svr, gbr")]
    = "pls,svr,gbr",
    spectral_range: Annotated[list[str] | None, typer.Option(
        "--range", help="wavenumber range LOW:HIGH to keep (repeatable; default: all)")]
    = None,
    holdout: Annotated[float, typer.Option(help="share of batches held out for the test")]
    = 0.25,
    neo4j_uri: UriOption = None,
) -> None:
    """Train a soft sensor for TARGET and store its model card as a new version."""
    from site_node.models.training import train_and_store

    config = SoftSensorConfig(ranges=_ranges(spectral_range or []), holdout_fraction=holdout,
                              algorithms=tuple(a.strip() for a in algorithms.split(",")))
    driver = connect(_settings(neo4j_uri))
    try:
        stored = train_and_store(driver, target, process=process, config=config)
    finally:
        driver.close()
    print_card(stored.card)


@softsensor_app.command("apply")
def apply(
    model_id: Annotated[str, typer.Argument(help="model id (see `softsensor list`)")],
    batch: Annotated[list[str] | None, typer.Option(help="batch id (repeatable; default: "
                                                    "every batch of the model's process)")]
    = None,
    neo4j_uri: UriOption = None,
) -> None:
    """Estimate every spectrum of the batches; flag out-of-domain spectra; check drift."""
    from site_node.models.estimates import apply_soft_sensor
    from site_node.repository import SiteRepository

    driver = connect(_settings(neo4j_uri))
    try:
        code = SiteRepository(driver).site_summary()["site"] or ""
        report = apply_soft_sensor(driver, model_id, site_code=code, batch_ids=batch or None)
    finally:
        driver.close()
    out.print(f"{model_id}: {report.estimates} estimates in {report.batches} batches, "
              f"{report.out_of_domain} out of domain, {report.compared} compared with lab "
              f"values ({report.seconds:.1f} s)", highlight=False)
    for finding in report.drift:
        out.print(f"[bold red]model drift[/] ({finding.kind}): {finding.description}",
                  highlight=False)


@softsensor_app.command("list")
def list_command(neo4j_uri: UriOption = None) -> None:
    """The site's soft-sensor and early-yield models, every version."""
    from site_node.models.store import list_models, list_yield_models

    driver = connect(_settings(neo4j_uri))
    try:
        rows = list_models(driver)
        yield_rows = list_yield_models(driver)
    finally:
        driver.close()
    table = Table("model", "target", "process", "version", "algorithm", "RMSEP", "R²",
                  "estimates", "drift events")
    for r in rows:
        table.add_row(r["model_id"], r["target"], r["process"] or "", str(r["version"]),
                      r["algorithm"], f"{r['metrics'].get('rmsep', float('nan')):.3g}",
                      f"{r['metrics'].get('r2', float('nan')):.3f}", str(r["estimates"]),
                      str(r["drift_events"]))
    out.print(table if rows else "no soft-sensor model is stored at this site")
    if yield_rows:
        cuts = sorted({c for r in yield_rows for c in r["by_fraction"]}, key=lambda c: float(
            c.rstrip("%")))
        table = Table("early-yield model", "target", "process", "version",
                      *[f"accuracy at {c}" for c in cuts])
        for r in yield_rows:
            table.add_row(r["model_id"], r["target"], r["process"] or "", str(r["version"]),
                          *[f"{r['by_fraction'][c]['accuracy_pct']:.1f} %"
                            if c in r["by_fraction"] else "" for c in cuts])
        out.print(table)


@softsensor_app.command("show")
def show(model_id: Annotated[str, typer.Argument(help="model id")],
         neo4j_uri: UriOption = None) -> None:
    """Print a model card (soft sensor or early yield)."""
    from site_node.models.store import model_card, yield_model_card

    driver = connect(_settings(neo4j_uri))
    try:
        if model_id.startswith("yield-"):
            print_yield_card(yield_model_card(driver, model_id))
            return
        card = model_card(driver, model_id)
    finally:
        driver.close()
    print_card(card)


@softsensor_app.command("yield")
def yield_command(
    attribute: Annotated[str, typer.Option(help="quality attribute to predict (e.g. the "
                                           "site's final titre attribute)")],
    at: Annotated[float, typer.Option(help="percentage of the batch elapsed")] = 50.0,
    process: Annotated[str | None, typer.Option(help="process code")] = None,
    store: Annotated[bool, typer.Option("--store/--no-store", help="keep the models as a new "
                                        "version of the early-yield model card")] = True,
    twin: Annotated[bool, typer.Option("--twin/--no-twin", help="offer the mechanistic twin's "
                                       "forecast as an input (slower; needs the site's "
                                       "alignment)")] = True,
    neo4j_uri: UriOption = None,
) -> None:
    """Early yield: models trained on the earlier finished batches (held-out accuracy per
    cut-off), the three latest batches predicted from their first AT % as if running; the
    models are stored as a new model-card version (`softsensor show` prints it)."""
    from site_node.models.yield_service import early_yield

    driver = connect(_settings(neo4j_uri))
    try:
        result = early_yield(driver, attribute, at_fraction=at / 100, process=process,
                             store=store, mechanistic=twin)
    finally:
        driver.close()
    print_yield(result)


def print_yield(result: Any) -> None:  # noqa: ANN401 - site_node.models.yield_service result
    models = result.models
    for fraction, model in sorted(models.models.items()):
        out.print(f"{models.target} from the first {fraction:.0%}: accuracy "
                  f"{model.accuracy_pct:.1f} % (100 % − MAPE, held-out batches; mean predictor "
                  f"{model.baseline_accuracy_pct:.1f} %), {model.model}",
                  highlight=False, soft_wrap=True)
    table = Table("batch", f"predicted at {result.at_fraction:.0%}", "95 % interval", "actual",
                  title=f"{models.target} ({models.unit}) predicted from the first "
                        f"{result.at_fraction:.0%} of each batch")
    for p, actual in result.predictions:
        table.add_row(p.batch_id, f"{p.value:.3g}", f"{p.low:.3g}–{p.high:.3g}",
                      f"{actual:.3g}")
    out.print(table)
    out.print("drivers: " + "; ".join(models.models[result.model_fraction].drivers[:3]),
              highlight=False, soft_wrap=True)
    for note in getattr(models, "notes", []):
        out.print(f"note: {note}", highlight=False, soft_wrap=True)
    if getattr(result, "stored", None) is not None:
        out.print(f"model card stored as {result.stored.model_id} (version "
                  f"{result.stored.version}, trained on {len(models.training_batches)} "
                  "batches)", highlight=False)


def print_yield_card(card: dict[str, Any]) -> None:
    """An early-yield model card in plain words."""
    out.rule(f"model card {card.get('model_id', '')} (version {card.get('version', '?')})")
    lines = [
        ("target", f"final {card['target']} ({card.get('unit', '')}), process "
                   f"{card.get('process', '?')}"),
        ("inputs", card.get("inputs", "")),
        ("algorithm", card["algorithm"]),
        ("training", f"{len(card['training_batches'])} batches: "
                     f"{', '.join(card['training_batches'])}"),
        ("validation", card.get("validation", "")),
    ]
    for label, text in lines:
        out.print(f"[bold]{label:17}[/] {text}", highlight=False, soft_wrap=True)
    for cut, m in card["by_fraction"].items():
        out.print(f"[bold]from the first {cut}[/]: accuracy {m['accuracy_pct']:.1f} % "
                  f"(100 % − MAPE, held out; mean predictor "
                  f"{m['mean_predictor_accuracy_pct']:.1f} %), interval "
                  f"±{m['interval_half_width']:.3g} {card.get('unit', '')}; "
                  f"{m.get('model', '')}", highlight=False, soft_wrap=True)
        for item in m["drivers"][:3]:
            out.print(f"  - {item}", highlight=False, soft_wrap=True)
    for title, key in (("assumptions", "assumptions"), ("limitations", "limitations"),
                       ("notes", "notes")):
        out.print(f"[bold]{title}[/]", highlight=False)
        for item in card.get(key, []):
            out.print(f"  - {item}", highlight=False, soft_wrap=True)


def aligned_code(site: str, parameter: str, kind: str) -> str | None:
    """The site's own code (``kind`` ``tag`` or ``attribute``) that its reviewed alignment
    file maps to the shared ``parameter`` — how the demo picks its target without assuming
    a site's names."""
    from importlib import resources
    from urllib.parse import unquote

    from rdflib import Graph
    from rdflib.namespace import SKOS

    from ontology import TFP, site_base

    path = resources.files("ontology.alignments") / f"{site}.ttl"
    if not path.is_file():
        return None
    graph = Graph().parse(data=path.read_text(), format="turtle")
    prefix = f"{site_base(site)}{kind}/"
    codes = sorted(unquote(str(s)[len(prefix):]) for s in
                   graph.subjects(SKOS.exactMatch, TFP[parameter]) if str(s).startswith(prefix))
    return codes[0] if codes else None


def demo_soft_sensor(drivers: dict[str, Any]) -> None:
    """Demo step: train a glucose soft sensor at one site, print its card, apply it, flag an
    injected out-of-domain spectrum, predict final titre of the latest batches at 50 %."""
    import time

    import numpy as np

    from site_node.models.data import spectra_with_lab
    from site_node.models.estimates import apply_soft_sensor
    from site_node.models.store import load_soft_sensor
    from site_node.models.training import train_and_store
    from site_node.models.yield_service import early_yield

    started = time.perf_counter()
    site = sorted(drivers)[0]
    driver = drivers[site]
    target = aligned_code(site, "glucose", "tag")
    if target is None:
        out.print(f"{site}: no lab code is aligned to glucose; soft-sensor demo skipped")
        return
    processes = driver.execute_query(
        "MATCH (b:Batch)-[:HAS_SPECTRA]->() RETURN b.process AS p, count(b) AS n "
        "ORDER BY n DESC LIMIT 1")[0]
    process = processes[0]["p"]
    out.rule(f"{site}: soft sensor for {target} (process {process})")
    stored = train_and_store(driver, target, process=process)
    print_card(stored.card)
    report = apply_soft_sensor(driver, stored.model_id, site_code=site)
    out.print(f"applied to {report.batches} batches: {report.estimates} estimates, "
              f"{report.out_of_domain} out of domain, {report.compared} paired with lab values",
              highlight=False)
    sensor, _ = load_soft_sensor(driver, stored.model_id)
    batch = spectra_with_lab(driver, target, process=process).batches[-1]
    spectrum = batch.spectra[len(batch.t_h) // 2]
    wn = batch.wavenumbers
    injected = np.vstack([spectrum, np.interp(wn - 8.0, wn, spectrum)])  # re-calibrated probe
    injected[1, ::97] *= 3.0  # plus cosmic-ray spikes
    flags = sensor.apply(injected, wn)
    for label, i in (("the batch's own spectrum", 0), ("injected: shifted 8 cm⁻¹ + spikes", 1)):
        verdict = "in domain" if flags.in_domain[i] else f"OUT OF DOMAIN — {flags.reason[i]}"
        out.print(f"  {label:36} estimate {flags.value[i]:.2f} {sensor.unit}: {verdict}",
                  highlight=False, soft_wrap=True)
    attribute = aligned_code(site, "titre", "attribute")
    if attribute is not None:
        try:
            print_yield(early_yield(driver, attribute, at_fraction=0.5, process=process,
                                    fractions=(0.5,)))  # one cut-off keeps the demo quick
        except ValidationError as exc:
            out.print(f"early yield prediction skipped: {exc}", highlight=False)
    out.print(f"soft-sensor demo step: {time.perf_counter() - started:.1f} s", highlight=False)

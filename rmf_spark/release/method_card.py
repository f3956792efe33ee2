"""The method card of a release: how its numbers were computed, in one Markdown file.

``METHOD.md`` ships in every release's export directory. It is generated, not written by hand,
so that it cannot drift from the code that ran: the formula is the docstring of the modules
(or functions) that compute the product (:data:`METHODS`: for the present population, those of
the estimator ``release.method`` names), the parameters are the effective values of the
config sections that shaped it, and the provenance is the manifest's (code and config hashes,
input versions). Its checksum is in the manifest with the other outputs.

Light on purpose: the sources are imported by name when a card is rendered, so that the
manifest can look up a product's sections without importing Spark.
"""

from __future__ import annotations

import importlib
import inspect
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = [
    "METHODS",
    "METHOD_CARD",
    "Method",
    "docstring_markdown",
    "product_method",
    "render",
    "source_docstring",
]

#: the card's file name in a release's export directory
METHOD_CARD = "METHOD.md"


@dataclass(frozen=True)
class Method:
    """How one product (with one estimator) is computed.

    Attributes
    ----------
    sources
        Modules (``package.module``) or functions (``package.module:function``) whose
        docstrings state the method, in the order of the computation.
    sections
        Config sections of the product's own stages and of the release: their parameters are
        printed on the card.
    upstream
        Config sections of the stages whose tables the product is computed from (the
        D- and C-layer): ``rmf verify`` compares them too, the card does not print them.
    estimator
        The estimator's name (``release.method``) when the product has several, else None.
    """

    sources: tuple[str, ...]
    sections: tuple[str, ...]
    upstream: tuple[str, ...] = ("ingest", "convergence")
    estimator: str | None = None


_PP = "rmf_spark.slayer.present_population"
_EXPANSION = "rmf_spark.slayer.aggregate.expansion"
_DISCLOSURE = "rmf_spark.release.disclosure"
_UE = "rmf_spark.slayer.usual_environment"
_MOBILITY = "rmf_spark.slayer.mobility"
_TOURISM = "rmf_spark.slayer.tourism"

#: per product, per estimator (None: the product has one), how it is computed. The present
#: population's ``hmm`` sums the device stage's posteriors; residents and OD read the device
#: stage's tables, and take their expansion factors from ``[present_population]``.
METHODS: dict[str, dict[str | None, Method]] = {
    "present_population": {
        "em": Method(
            (f"{_PP}.observations", f"{_PP}.em", _EXPANSION, _DISCLOSURE),
            ("present_population", "release"),
            estimator="em",
        ),
        "naive": Method(
            (
                f"{_PP}.observations",
                f"{_PP}.estimators:compute_naive_tile_devices",
                _EXPANSION,
                _DISCLOSURE,
            ),
            ("present_population", "release"),
            estimator="naive",
        ),
        "hmm": Method(
            ("rmf_spark.slayer.device.hmm", f"{_PP}.posterior_sum", _DISCLOSURE),
            ("present_population", "device", "release"),
            estimator="hmm",
        ),
    },
    "residents": {
        None: Method(
            (f"{_UE}.labels", f"{_UE}.residents", _DISCLOSURE),
            ("usual_environment", "present_population", "release"),
            upstream=("ingest", "convergence", "device"),
        )
    },
    "od": {
        None: Method(
            (f"{_MOBILITY}.trips", f"{_MOBILITY}.od", "rmf_spark.release.flows"),
            ("mobility", "present_population", "release"),
            upstream=("ingest", "convergence", "device"),
        )
    },
    "tourism_inbound": {
        None: Method(
            (f"{_TOURISM}.nights", f"{_TOURISM}.inbound", _DISCLOSURE),
            ("tourism", "release"),
            upstream=("ingest", "convergence", "device"),
        )
    },
    "tourism_outbound": {
        None: Method(
            (f"{_TOURISM}.nights", f"{_TOURISM}.outbound", _DISCLOSURE),
            ("tourism", "present_population", "release"),
            upstream=("ingest", "convergence", "device", "usual_environment"),
        )
    },
}

#: a product without an entry in :data:`METHODS`: no formula, and every section that holds
#: a method's settings is taken to have shaped it
_UNKNOWN = Method(
    (),
    ("ingest", "convergence", "present_population", "device", "usual_environment", "mobility"),
    upstream=(),
)

#: ``:role:`target``` and ``:domain:role:`~target``` (Sphinx cross-references)
_ROLE = re.compile(r":(?:\w+:)?\w+:`(~?)([^`]+)`")
#: the sections of a numpy docstring that state the method (the others are about the API)
_KEPT_SECTIONS = ("", "Notes")


def product_method(product: str, release_method: str) -> Method:
    """How ``product`` was computed when ``release.method`` is ``release_method`` (ignored for a
    product with one estimator).

    >>> product_method("present_population", "hmm").sections
    ('present_population', 'device', 'release')
    """
    methods = METHODS.get(product)
    if methods is None:
        return _UNKNOWN
    return methods.get(release_method) or methods.get(None) or _UNKNOWN


def _role(match: re.Match[str]) -> str:
    short, target = match.group(1), match.group(2)
    target = target.split("<")[-1].rstrip(">").strip() if "<" in target else target
    name = target.rsplit(".", 1)[-1] if short else target.lstrip(".")
    return f"`{name}`"


def docstring_markdown(doc: str) -> tuple[str, str]:
    """A numpy-style docstring as Markdown: its summary (the first paragraph, on one line) and
    the rest of its text and ``Notes``, without the API sections (parameters, returns,
    examples) and with Sphinx cross-references as code (``:mod:`~a.b``` -> `` `b` ``).

    >>> docstring_markdown('''Sum of x.
    ...
    ... Parameters
    ... ----------
    ... x
    ...     Values.
    ...
    ... Notes
    ... -----
    ... ``s = sum_i x_i`` (:func:`~numpy.sum`).
    ... ''')
    ('Sum of x.', '``s = sum_i x_i`` (`sum`).')
    """
    lines = inspect.cleandoc(doc).splitlines()
    blank = lines.index("") if "" in lines else len(lines)
    summary = " ".join(line.strip() for line in lines[:blank])
    kept: list[str] = []
    section, i = "", blank
    while i < len(lines):
        line = lines[i]
        underline = lines[i + 1] if i + 1 < len(lines) else ""
        if line.strip() and re.fullmatch(r"-{3,}", underline.strip()):
            section = line.strip()
            i += 2
            continue
        if section in _KEPT_SECTIONS:
            kept.append(line)
        i += 1
    body = _ROLE.sub(_role, "\n".join(kept).strip())
    return _ROLE.sub(_role, summary), re.sub(r"\n{3,}", "\n\n", body)


def source_docstring(source: str) -> tuple[str, str | None, Path]:
    """The docstring of ``module`` or ``module:function`` and the module's file."""
    module_name, _, function = source.partition(":")
    module = importlib.import_module(module_name)
    obj = getattr(module, function) if function else module
    return inspect.getdoc(obj) or "", function or None, Path(inspect.getfile(module))


def _value(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return "`" + text.replace("|", "\\|").replace("`", "'") + "`"


def _section_table(name: str, tree: dict[str, Any]) -> list[str]:
    from rmf_spark.release.manifest import flatten

    rows = flatten(tree.get(name, {}))
    out = [f"### `[{name}]`", "", "| key | value |", "|---|---|"]
    out += [f"| `{key}` | {_value(value)} |" for key, value in rows.items()]
    return [*out, ""]


def render(manifest: dict[str, Any], *, package_root: Path | None = None) -> str:
    """The method card of the release ``manifest`` (:func:`~.manifest.build_manifest`) as
    Markdown: method (the sources' docstrings), parameters, provenance.

    Parameters
    ----------
    manifest
        The release's manifest: product, estimator, effective config, hashes, inputs, counts.
    package_root
        The installed package's directory (default: ``rmf_spark``'s): a source's checksum
        is looked up in the manifest's ``code.files`` by its path relative to it.
    """
    import rmf_spark

    root = package_root or Path(rmf_spark.__file__).resolve().parent
    product = manifest["table"]
    method = product_method(product, manifest.get("method") or "")
    code, config = manifest["code"], manifest["config"]
    span = manifest["time_range"]
    out = [
        f"# Method card: {product}",
        "",
        f"Released by `{manifest['mno_id']}` for {span['start']} .. {span['end']}"
        + (f", estimator `{method.estimator}` (`release.method`)" if method.estimator else "")
        + f": {manifest.get('rows', '?')} rows, {manifest.get('suppressed', '?')} suppressed.",
        "Generated from the code that ran and its configuration; `manifest.json` beside it "
        "holds the whole configuration and the checksum of every file of the release, and "
        "`rmf verify` checks them (`docs/provenance.md`).",
        "",
        "## Method",
        "",
    ]
    if not method.sources:
        out += [f"No method description is registered for `{product}`.", ""]
    for source in method.sources:
        doc, function, path = source_docstring(source)
        summary, body = docstring_markdown(doc)
        try:
            rel = path.resolve().relative_to(root).as_posix()
        except ValueError:  # imported from elsewhere than ``package_root``
            rel = path.name
        digest = code.get("files", {}).get(rel, "not recorded")
        where = f"`rmf_spark/{rel}`" + (f", `{function}`" if function else "")
        out += [f"### {summary}", "", f"*Source: {where} (SHA-256 `{digest}`).*", ""]
        out += [body, ""] if body else []
    out += [
        "## Parameters",
        "",
        "The effective values of the configuration sections that shaped it (secrets excluded).",
        "",
    ]
    for name in method.sections:
        out += _section_table(name, config["effective"])
    out += [
        "## Provenance",
        "",
        f"- rmf_spark {code.get('rmf_spark')}, git commit `{code.get('git_commit')}`",
        f"- code SHA-256 `{code.get('sha256')}` ({len(code.get('files', {}))} files)",
        f"- configuration SHA-256 `{config['hash']}` (all keys), "
        f"`{config['compared']['hash']}` (the keys `rmf verify` compares: sections "
        + ", ".join(f"`{s}`" for s in config["compared"]["sections"])
        + ")",
        "- versions: "
        + ", ".join(f"{k} {v}" for k, v in sorted(manifest.get("versions", {}).items())),
        "",
        "| input | Delta version |",
        "|---|---|",
    ]
    out += [
        f"| `{name}` | {entry.get('delta_version')} |"
        for name, entry in sorted(manifest.get("inputs", {}).items())
    ]
    return "\n".join(out) + "\n"

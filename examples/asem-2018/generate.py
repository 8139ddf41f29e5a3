"""Write COINr's ASEM Sustainable Connectivity example index as riskengine files.

    python examples/asem-2018/generate.py

writes (replacing what an earlier run wrote), from the CSV files in data/:
- factors/<indicator>.yaml        one factor per ASEM indicator (49)
- models/asem_2018.yaml           the index tree: 49 leaves, 8 pillars, 2 sub-indices, 1 index
- scenarios/asem-2018/<code>.yaml one scenario per country (51), the population of the tree

What the files carry and why (see README.md):
- Scenario values are COINr's *imputed* data set (denominated, group-mean imputed; data/
  imputed.csv): the engine has no denominators or group imputation, so those two steps are done
  upstream, as COINr did them, and reference.py recomputes them from the raw data.
- Every leaf says ``normalise: minmax``: min-max over the 51 scenarios of the folder, which is
  COINr's ``n_minmax`` over the units.
- The 15 indicators COINr Winsorised get ``transform: {winsorise: [q_lo, q_hi]}``: the engine
  clips at the population's quantiles (numpy linear) and min-maxes between the clip bounds. The
  levels are chosen so the bounds are exactly COINr's Winsorised values: with m units strictly
  above COINr's new maximum, q_hi = (n-1-m)/(n-1) (n = 51, so multiples of 0.02); likewise q_lo.
- Indicators with COINr direction -1 are ``higher_means: less`` (COINr multiplies them by -1
  before min-max, which is the same as reversing the normalised value).
"""

from __future__ import annotations

import csv
import math
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
AS_OF = "2022-10-01"  # the day COINr's repository published ASEM_COIN (commit cb3cb5a); see README
PARTNERSHIP = "asem-2018"
TREE_ID = "asem_2018"

# COINr code -> riskengine id (snake_case), for indicators and aggregates alike
IDS = {
    "Goods": "goods", "Services": "services", "FDI": "fdi", "PRemit": "remittances",
    "ForPort": "foreign_portfolio", "CostImpEx": "cost_import_export", "Tariff": "tariff",
    "TBTs": "technical_barriers", "TIRcon": "tir_convention", "RTAs": "trade_agreements",
    "Visa": "visa_free", "StMob": "student_mobility", "Research": "research", "Pat": "patents",
    "CultServ": "cultural_services", "CultGood": "cultural_goods", "Tourist": "tourists",
    "MigStock": "migrant_stock", "Lang": "common_languages", "LPI": "lpi", "Flights": "flights",
    "Ship": "liner_shipping", "Bord": "border_crossings", "Elec": "electricity_trade",
    "Gas": "gas_trade", "ConSpeed": "connection_speed", "Cov4G": "coverage_4g",
    "Embs": "embassies", "IGOs": "igos", "UNVote": "un_voting", "Renew": "renewables",
    "PrimEner": "primary_energy", "CO2": "co2", "MatCon": "material_consumption",
    "Forest": "forest_loss", "Poverty": "poverty", "Palma": "palma", "TertGrad":
    "tertiary_graduates", "FreePress": "press_freedom", "TolMin": "tolerance_minorities",
    "NGOs": "ngos", "CPI": "cpi", "FemLab": "female_labour", "WomParl": "women_parliament",
    "PubDebt": "public_debt", "PrivDebt": "private_debt", "GDPGrow": "gdp_growth",
    "RDExp": "rd_expenditure", "NEET": "neet",
    "Physical": "physical", "ConEcFin": "economic_financial_connectivity",
    "Political": "political", "Instit": "institutional", "P2P": "people_to_people",
    "Environ": "environmental", "Social": "social",
    "SusEcFin": "economic_financial_sustainability",
    "Conn": "connectivity", "Sust": "sustainability", "Index": "sustainable_connectivity",
}
DENOMINATOR = {"Den_GDP": "GDP (USD billion)", "Den_Pop": "population (thousands)",
               "Den_Area": "land area", "Den_Energy": "energy consumption"}
SCALE_MARGIN = 0.1  # share of the observed range added on each open side of a factor's scale


def read(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def number(x: float) -> str:
    """Shortest round-trip text of ``x`` that every YAML loader reads as a float."""
    text = repr(float(x))
    mantissa, _, exponent = text.partition("e")
    if exponent and "." not in mantissa:
        text = f"{mantissa}.0e{exponent}"  # YAML 1.1 needs the dot: 1e-05 would be a string
    return text


def nice(x: float, up: bool) -> float:
    """Round ``x`` outwards to two significant digits."""
    if x == 0:
        return 0.0
    step = 10 ** (math.floor(math.log10(abs(x))) - 1)
    return (math.ceil if up else math.floor)(x / step) * step


def scale_of(values: list[float], unit: str, denominated: bool) -> tuple[float, float]:
    """A factor scale holding every value with room to spare.

    Non-negative quantities start at 0, their natural floor; otherwise the observed range is
    widened by SCALE_MARGIN on each side and rounded outwards to two significant digits. A raw
    percentage whose margin would pass 100 stops at 100. The scale only bounds what the engine
    accepts: the leaves are min-maxed over the population, so it does not enter any score.
    """
    lo, hi = min(values), max(values)
    span = hi - lo
    low = 0.0 if lo >= 0 else nice(lo - SCALE_MARGIN * span, up=False)
    high = nice(hi + SCALE_MARGIN * span, up=True)
    if unit == "Percent" and not denominated and hi <= 100 < high:
        high = 100.0
    return low, high


def winsorise_levels(imputed: list[float], treated: list[float]) -> tuple[float, float] | None:
    """Quantile levels whose linear population quantiles are COINr's Winsorised bounds."""
    n = len(imputed)
    above = sum(v > max(treated) for v in imputed)
    below = sum(v < min(treated) for v in imputed)
    if not above and not below:
        return None
    return below / (n - 1), (n - 1 - above) / (n - 1)


def display_name(name: str) -> str:
    # COINr6 renamed the Population denominator to Den_Pop everywhere in its metadata, two
    # indicator names included ("Den_Pop covered by at least a 4G mobile network")
    return name.replace("Den_Pop", "Population").replace('"', "'")


def factor_yaml(meta: dict[str, str], pillar: str, sub: str, scale: tuple[float, float],
                imputed: int, levels: tuple[float, float] | None) -> str:
    fid = IDS[meta["code"]]
    more = meta["direction"] == "1"
    den = meta["denominator"]
    unit = meta["unit"] + (f", divided by {DENOMINATOR[den]}" if den else "")
    text = (f'ASEM Sustainable Connectivity indicator "{display_name(meta["name"])}" (COINr '
            f'code {meta["code"]}; pillar "{pillar}", sub-index "{sub}"), as in COINr\'s example '
            "index. "
            + (f"Divided by {DENOMINATOR[den]} before use. " if den else "")
            + ("Higher values mean more connectivity or sustainability. " if more else
               "COINr's direction is -1: lower values mean more connectivity or "
               "sustainability, so higher_means is less. ")
            + (f"{imputed} of the 51 values are COINr's group-mean imputations. " if imputed
               else "")
            + (f"COINr Winsorised this indicator; the tree clips it at the population "
               f"quantiles {levels[0]:g} and {levels[1]:g}. " if levels else "")
            + "The tree min-maxes it over the 51 ASEM countries, so the scale below only bounds "
              "the values the engine accepts (see examples/asem-2018/README.md).")
    description = textwrap.indent(textwrap.fill(text, 96), "  ")
    name = display_name(meta["name"])
    return f"""# yaml-language-server: $schema=../../../schemas/factor.schema.json
id: {fid}
name: "{name}"
kind: opportunity
group: {IDS[meta["pillar"]]}
description: >-
{description}
scale:
  min: {number(scale[0])}
  max: {number(scale[1])}
  unit: "{unit}"
higher_means: {"more" if more else "less"}
weight: 1
"""


def tree_yaml(ind: list[dict[str, str]], agg: list[dict[str, str]],
              levels: dict[str, tuple[float, float]]) -> str:
    names = {a["code"]: a["name"] for a in agg}
    weights = {r["code"]: float(r["weight"]) for r in ind + agg}
    lines = [
        "# yaml-language-server: $schema=../../../schemas/tree.schema.json",
        f"id: {TREE_ID}",
        "name: ASEM Sustainable Connectivity (COINr example index)",
        "description: >-",
        "  COINr's example composite indicator: sustainable connectivity of the 51 ASEM",
        "  (Asia-Europe Meeting) countries, from the 49 indicators of the JRC's ASEM",
        "  Sustainable Connectivity Portal. Each indicator is min-maxed to 0..100 over the 51",
        "  countries (15 of them after Winsorising, written as population-quantile clips), then",
        "  arithmetic means with equal weights: indicators -> 8 pillars -> Connectivity and",
        "  Sustainability -> the index. Reproduces COINr's stored build (ASEM_COIN) to 1e-13;",
        "  see examples/asem-2018/README.md.",
        "scale: {min: 0, max: 100, unit: COINr score (0-100)}",
        "higher_is: better",
        "root:",
        f"  id: {IDS['Index']}",
        f"  name: {names['Index']}",
        "  method: arithmetic",
        "  children:",
    ]
    subs = [a["code"] for a in agg if a["level"] == "3"]
    for sub in subs:
        lines += [f"    - id: {IDS[sub]}", f"      name: {names[sub]}",
                  "      method: arithmetic", f"      weight: {weights[sub]:g}",
                  "      children:"]
        pillars = [a["code"] for a in agg if a["level"] == "2"
                   and any(r["pillar"] == a["code"] and r["sub_index"] == sub for r in ind)]
        for pillar in pillars:
            lines += [f"        - id: {IDS[pillar]}", f"          name: {names[pillar]}",
                      "          method: arithmetic", f"          weight: {weights[pillar]:g}",
                      "          children:"]
            for r in (r for r in ind if r["pillar"] == pillar):
                code = r["code"]
                leaf = f"factor: {IDS[code]}, weight: {weights[code]:g}, normalise: minmax"
                if r["code"] in levels:
                    lo, hi = levels[r["code"]]
                    leaf += f", transform: {{winsorise: [{lo:g}, {hi:g}]}}"
                lines.append(f"            - {{{leaf}}}")
    return "\n".join(lines) + "\n"


def scenario_yaml(unit: dict[str, str], codes: list[str]) -> str:
    lines = [
        "# yaml-language-server: $schema=../../../../schemas/scenario.schema.json",
        f"id: {unit['code'].lower()}",
        f'title: "{unit["name"]}"',
        f"partnership: {PARTNERSHIP}",
        f"tree: {TREE_ID}",
        f"as_of: {AS_OF}",
        "factors:",
    ]
    lines += [f"  {IDS[c]}: {{value: {number(float(unit[c]))}}}" for c in codes]
    return "\n".join(lines) + "\n"


def write_all(files: dict[Path, str], folder: Path) -> None:
    """Write ``files`` under ``folder`` and remove YAML files there that a run no longer makes."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in folder.glob("*.yaml"):
        if stale not in files:
            stale.unlink()
    for path, text in files.items():
        path.write_text(text, encoding="utf-8")


def main() -> None:
    ind, agg = read("indicators.csv"), read("aggregates.csv")
    imputed, treated, denominated = read("imputed.csv"), read("treated.csv"), read(
        "denominated.csv")
    codes = [r["code"] for r in ind]
    agg_names = {a["code"]: a["name"] for a in agg}
    col = {c: [float(u[c]) for u in imputed] for c in codes}
    levels = {}
    for c in codes:
        q = winsorise_levels(col[c], [float(u[c]) for u in treated])
        if q is not None:
            levels[c] = q
    factors = {}
    for r in ind:
        c = r["code"]
        n_imputed = sum(u[c] == "" for u in denominated)
        factors[HERE / "factors" / f"{IDS[c]}.yaml"] = factor_yaml(
            r, agg_names[r["pillar"]], agg_names[r["sub_index"]],
            scale_of(col[c], r["unit"], bool(r["denominator"])), n_imputed, levels.get(c))
    write_all(factors, HERE / "factors")
    write_all({HERE / "models" / f"{TREE_ID}.yaml": tree_yaml(ind, agg, levels)}, HERE / "models")
    sdir = HERE / "scenarios" / PARTNERSHIP
    write_all({sdir / f"{u['code'].lower()}.yaml": scenario_yaml(u, codes) for u in imputed}, sdir)
    print(f"wrote {len(factors)} factors, 1 tree ({len(levels)} winsorised leaves) and "
          f"{len(imputed)} scenarios under {HERE}")


if __name__ == "__main__":
    main()

"""Write the INFORM Risk 2021 example as riskengine files, from data/inform_2021.csv.

    python examples/inform-2021/generate.py

writes (replacing what an earlier run wrote):
- factors/<component>.yaml       one factor per INFORM component (21)
- models/inform_2021.yaml        the INFORM tree
- scenarios/inform-2021/<iso3>.yaml   one scenario per country (191)

The scale trick. INFORM's "geometric of complements" is ``T - geomean(T - x)`` with
``T = 10 + 10/9`` on the 0-10 scale (the complements are rescaled from 0..10 to 1..10 before the
geometric mean; see reference.py). The tree method ``geometric_complements`` computes
``1 - prod((1 - s) ** w)`` on normalised values s. Putting every factor, and the tree's display
scale, on 0..100/9 makes s = 0.9 * x/10, so 1 - s = (T - x)/T and the tree method gives exactly
INFORM's rule; arithmetic, max-with-multipliers and geometric nodes are unchanged by the common
factor 0.9. Displayed node values are then INFORM's 0-10 values. No floors are needed (1 - s is
at least 0.1), so ``eps: 0`` everywhere.
"""

from __future__ import annotations

import csv
import textwrap
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / "data" / "inform_2021.csv"
AS_OF = "2020-11-05"  # earliest public snapshot of the release file; see README
PARTNERSHIP = "inform-2021"
TREE_ID = "inform_2021"
SCALE_MAX = repr(100 / 9)  # "11.11111111111111", read back as exactly 100/9

# dimension id -> (name, [(category id, name, method, [(component id, name, weight)])])
DIMENSIONS = {
    "hazard_exposure": ("Hazard & Exposure", [
        ("natural", "Natural hazard", "geometric_complements", [
            ("earthquake", "Earthquake", 1), ("flood", "Flood", 1), ("tsunami", "Tsunami", 1),
            ("tropical_cyclone", "Tropical cyclone", 1), ("drought", "Drought", 1),
            ("epidemic", "Epidemic", 1)]),
        ("human", "Human hazard", "max", [
            ("current_highly_violent_conflict_intensity",
             "Current highly violent conflict intensity", 1),
            ("projected_conflict_risk", "Projected conflict risk", 0.7)]),
    ]),
    "vulnerability": ("Vulnerability", [
        ("socio_economic_vulnerability", "Socio-economic vulnerability", "arithmetic", [
            ("development_deprivation", "Development & deprivation", 2),
            ("inequality", "Inequality", 1), ("economic_dependency", "Economic dependency", 1)]),
        ("vulnerable_groups", "Vulnerable groups", "geometric_complements", [
            ("uprooted_people", "Uprooted people", 1),
            ("other_vulnerable_groups", "Other vulnerable groups", "geometric_complements", [
                ("health_conditions", "Health conditions", 1),
                ("children_u5", "Children under 5", 1),
                ("recent_shocks", "Recent shocks", 1), ("food_security", "Food security", 1)]),
        ]),
    ]),
    "lack_of_coping_capacity": ("Lack of Coping Capacity", [
        ("institutional", "Institutional", "arithmetic", [
            ("drr", "Disaster risk reduction", 1), ("governance", "Governance", 1)]),
        ("infrastructure", "Infrastructure", "arithmetic", [
            ("communication", "Communication", 1),
            ("physical_infrastructure", "Physical infrastructure", 1),
            ("access_to_health_care", "Access to health care", 1)]),
    ]),
}

# What a high score means, per component (INFORM's component definitions, in brief).
MEANING = {
    "earthquake": "the population's physical exposure to earthquakes",
    "flood": "the population's physical exposure to floods",
    "tsunami": "the population's physical exposure to tsunamis",
    "tropical_cyclone": "the population's physical exposure to tropical cyclones",
    "drought": "the exposure of people and agriculture to drought",
    "epidemic": "the likelihood and reach of epidemic outbreaks",
    "current_highly_violent_conflict_intensity": "the intensity of highly violent conflict "
                                                 "under way in the country",
    "projected_conflict_risk": "the projected risk of violent conflict",
    "development_deprivation": "low human development and high multidimensional poverty",
    "inequality": "income and gender inequality",
    "economic_dependency": "dependence on aid and other external flows",
    "uprooted_people": "refugees, returnees and internally displaced people relative to the "
                       "population",
    "health_conditions": "the burden of diseases such as HIV, tuberculosis and malaria",
    "children_u5": "the vulnerability of children under five (mortality, undernutrition)",
    "recent_shocks": "the people affected by recent natural disasters",
    "food_security": "food insecurity and limited access to food",
    "drr": "weak disaster risk reduction",
    "governance": "weak governance and high corruption",
    "communication": "limited access to communication (electricity, internet, phone)",
    "physical_infrastructure": "poor physical infrastructure (roads, water, sanitation)",
    "access_to_health_care": "poor access to health care",
}


def components() -> list[tuple[str, str, str, float]]:
    """(component id, name, dimension id, weight) in tree order."""
    out = []

    def walk(kids: list, dim: str) -> None:
        for k in kids:
            if len(k) == 3:
                out.append((k[0], k[1], dim, k[2]))
            else:
                walk(k[3], dim)

    for dim, (_, cats) in DIMENSIONS.items():
        walk(cats, dim)
    return out


def factor_yaml(cid: str, name: str, dim: str) -> str:
    dim_name = DIMENSIONS[dim][0]
    text = (f'INFORM Risk 2021 component "{name}" ({dim_name} dimension), as published by the '
            "European Commission's Joint Research Centre on a 0-10 scale. It measures "
            f"{MEANING[cid]}; the higher the score, the higher the risk. The factor's scale "
            "runs to 100/9 rather than 10 so that "
            "the tree's geometric of complements reproduces INFORM's rule exactly (see "
            "examples/inform-2021/README.md).")
    description = textwrap.indent(textwrap.fill(text, 96), "  ")
    return f"""# yaml-language-server: $schema=../../../schemas/factor.schema.json
id: {cid}
name: {name}
kind: risk
group: {dim}
description: >-
{description}
scale:
  min: 0
  max: {SCALE_MAX}
  unit: INFORM score (0-10)
higher_means: more
weight: 1
"""


def node_yaml(kids: list, indent: int) -> list[str]:
    pad = " " * indent
    lines = []
    for k in kids:
        if len(k) == 3:
            lines.append(f"{pad}- {{factor: {k[0]}, weight: {k[2]:g}}}")
        else:
            cid, name, method, sub = k
            lines += [f"{pad}- id: {cid}", f"{pad}  name: {name}", f"{pad}  method: {method}"]
            if method.startswith("geometric"):
                lines.append(f"{pad}  eps: 0")
            lines += [f"{pad}  round: 1", f"{pad}  children:"]
            lines += node_yaml(sub, indent + 4)
    return lines


def tree_yaml() -> str:
    lines = [
        "# yaml-language-server: $schema=../../../schemas/tree.schema.json",
        f"id: {TREE_ID}",
        "name: INFORM Risk Index 2021",
        "description: >-",
        "  The INFORM Risk Index 2021 of the European Commission's Joint Research Centre: risk of",
        "  humanitarian crises and disasters for 191 countries, the geometric mean of three",
        "  dimensions (hazard & exposure, vulnerability, lack of coping capacity). Components,",
        "  categories and dimensions are combined with INFORM's rules; values are on INFORM's",
        "  0-10 scale, carried on a 0..100/9 scale so that geometric_complements equals INFORM's",
        "  rescaled rule (see examples/inform-2021/README.md). INFORM rounds every level to one",
        "  decimal (half up) before aggregating further, and so does this tree (round: 1).",
        f"scale: {{min: 0, max: {SCALE_MAX}, unit: INFORM score (0-10)}}",
        "higher_is: worse",
        "bands:",
        "  - {name: very_high, min: 6.5}",
        "  - {name: high, min: 5.0}",
        "  - {name: medium, min: 3.5}",
        "  - {name: low, min: 2.0}",
        "  - {name: very_low, min: 0}",
        "root:",
        "  id: inform_risk",
        "  name: INFORM Risk",
        "  method: geometric",
        "  eps: 0",
        "  round: 1",
        "  children:",
    ]
    for dim, (name, cats) in DIMENSIONS.items():
        lines += [f"    - id: {dim}", f"      name: {name}", "      method: geometric_complements",
                  "      eps: 0", "      round: 1", "      children:"]
        lines += node_yaml(cats, 8)
    return "\n".join(lines) + "\n"


def scenario_yaml(row: dict[str, str], comps: list[tuple[str, str, str, float]]) -> str:
    iso = row["iso3"].lower()
    title = row["country"].replace('"', '\\"')
    lines = [
        "# yaml-language-server: $schema=../../../../schemas/scenario.schema.json",
        f"id: {iso}",
        f'title: "{title}"',
        f"partnership: {PARTNERSHIP}",
        f"tree: {TREE_ID}",
        f"as_of: {AS_OF}",
        "factors:",
    ]
    lines += [f"  {cid}: {{value: {row[cid]}}}" for cid, *_ in comps if row[cid] != ""]
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
    with DATA.open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    comps = components()
    fdir, mdir, sdir = HERE / "factors", HERE / "models", HERE / "scenarios" / PARTNERSHIP
    write_all({fdir / f"{cid}.yaml": factor_yaml(cid, name, dim)
               for cid, name, dim, _ in comps}, fdir)
    write_all({mdir / f"{TREE_ID}.yaml": tree_yaml()}, mdir)
    write_all({sdir / f"{r['iso3'].lower()}.yaml": scenario_yaml(r, comps) for r in rows}, sdir)
    print(f"wrote {len(comps)} factors, 1 tree and {len(rows)} scenarios under {HERE}")


if __name__ == "__main__":
    main()

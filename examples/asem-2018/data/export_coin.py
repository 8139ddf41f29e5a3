"""Export COINr's stored ASEM example index (``ASEM_COIN``) to the CSV files beside this script.

Provenance only: the CSV files are committed, so nothing else needs this script or its one
extra dependency. To redo the export (no R needed):

    git -C <COINr clone> show \
        b9682034635df03279896b6cb025cd3534f82cbb:data/ASEM_COIN.rda > ASEM_COIN.rda
    pip install rdata pandas
    python examples/asem-2018/data/export_coin.py ASEM_COIN.rda

``ASEM_COIN`` is an R list of class "COIN" (COINr < 1.0, built with ``COINr6::build_ASEM()``):
``Data`` holds every stage of the build (Raw, Denominated, Imputed, Treated, Normalised,
Aggregated), ``Input$IndMeta`` the indicator metadata and ``Input$Denominators`` the
denominators. Every number is written with Python's shortest round-trip repr, so the CSV
values are the stored doubles exactly.
"""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import pandas as pd
import rdata

HERE = Path(__file__).resolve().parent
STAGES = ["Raw", "Denominated", "Imputed", "Treated", "Normalised", "Aggregated"]


def main(path: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # R classes without a Python constructor come back as lists
        coin = rdata.conversion.convert(rdata.parser.parse_file(path))["ASEM_COIN"]
    meta = coin["Input"]["IndMeta"]
    codes = [str(c) for c in meta["IndCode"]]
    aggs = [str(c) for c in coin["Input"]["AggMeta"]["Code"]]
    ind = pd.DataFrame({
        "code": codes, "name": meta["IndName"].astype(str), "unit": meta["IndUnit"].astype(str),
        "direction": meta["Direction"].astype(int), "weight": meta["IndWeight"],
        "denominator": meta["Denominator"].fillna(""), "pillar": meta["Agg1"].astype(str),
        "sub_index": meta["Agg2"].astype(str)})
    ind.to_csv(HERE / "indicators.csv", index=False)
    agg = coin["Input"]["AggMeta"][["AgLevel", "Code", "Name", "Weight"]]
    agg.columns = ["level", "code", "name", "weight"]
    agg.assign(level=agg["level"].astype(int)).to_csv(HERE / "aggregates.csv", index=False)
    den = coin["Input"]["Denominators"]
    # positional columns throughout: R's row names (1..51) must not take part in alignment
    units = pd.DataFrame({"code": den["UnitCode"].astype(str).to_numpy(),
                          "name": den["UnitName"].astype(str).to_numpy(),
                          "eurasia_group": den["Group_EurAsia"].astype(str).to_numpy()})
    for col in ("Den_Area", "Den_Energy", "Den_GDP", "Den_Pop"):
        units[col.lower()] = den[col].to_numpy()
    for stage in STAGES:
        data = coin["Data"][stage]
        assert list(data["UnitCode"].astype(str)) == list(units["code"])
        cols = codes + (aggs if stage == "Aggregated" else [])
        out = pd.concat([units[["code", "name"]] if stage != "Raw" else units,
                         data[cols].reset_index(drop=True)], axis=1)
        out.to_csv(HERE / f"{stage.lower()}.csv", index=False, float_format=None)
    print(f"wrote indicators.csv, aggregates.csv and {len(STAGES)} stage files to {HERE}")


if __name__ == "__main__":
    main(sys.argv[1])

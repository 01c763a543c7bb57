"""Markdown tables from cross-validation reports (runs/cv/NAME/report.json).

Usage: python benchmarks/cv_table.py folds NAME [--model final] [--settings 0]   per-fold table of one run
       python benchmarks/cv_table.py compare NAME[:MODEL[:SETTINGS]] ...           one overall line per run
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

COLUMNS = ("photos", "psnr_gain", "ab_rmse", "gray_ab_rmse", "auc", "colorfulness_ratio", "worse_than_gray_3db")
HEADER = "| {} | photos | PSNR gain (dB) | ab RMSE | gray ab RMSE | AuC | colourfulness | worse than gray by >3 dB |"


def load(name: str) -> dict:
    return json.loads((Path("runs/cv") / name / "report.json").read_text())


def row(label: str, f: dict) -> str:
    return (f"| {label} | {f['photos']} | {f['psnr_gain']:+.2f} | {f['ab_rmse']:.2f} | {f['gray_ab_rmse']:.2f} | "
            f"{f['auc']:.3f} | {f['colorfulness_ratio']:.2f} | {f['worse_than_gray_3db']:.1%} |")


def pick(report: dict, model: str, variant: str, settings: int) -> dict:
    for r in report["results"]:
        if (r["model"], r["variant"], r["settings"]) == (model, variant, settings):
            return r
    raise SystemExit(f"no results for model={model} variant={variant} settings={settings}")


def main(argv: list[str]) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=("folds", "compare"))
    p.add_argument("runs", nargs="+")
    p.add_argument("--model", default="final")
    p.add_argument("--settings", type=int, default=0)
    p.add_argument("--variant", default="clean")
    a = p.parse_args(argv)
    if a.mode == "folds":
        report = load(a.runs[0])
        for variant in ("clean", "old_print"):
            r = pick(report, a.model, variant, a.settings)
            print(f"\n{variant} inputs\n")
            print(HEADER.format("fold (sources left out)"))
            print("|" + "---|" * 8)
            for fold in report["folds"]:
                if fold["name"] in r["per_fold"]:
                    print(row(fold["name"], r["per_fold"][fold["name"]]))
            print(row("**all photos**", r["overall"]))
        return 0
    print(HEADER.format("run"))
    print("|" + "---|" * 8)
    for spec in a.runs:
        name, model, settings = (spec.split(":") + [a.model, str(a.settings)])[:3]
        r = pick(load(name), model, a.variant, int(settings))
        print(row(f"{name} ({model}, s{settings}, worst fold {r['overall']['worst_fold_gain']:+.2f})", r["overall"]))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Share of columns and values a mapping draft guesses right on exports nobody tuned it for.

Each country's synthetic export is re-shaped four ways (camelCase, snake_case, capitals, terse
abbreviations with local-script admin-1 names and weapon model names), with headers and labels
the generator does not use; ``vanfed mapping init`` drafts a mapping for each and the draft is
compared with the truth. A value counts as right only if its column was found and its code
is the true one; "?" counts as not guessed. Results: benchmarks/results/mapping_draft.json.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from vanfed.ingest import scaffold_mapping
from vanfed.synthetic import PROFILES, RESHAPES, reshape_export, score_draft, write_export

HERE = Path(__file__).parent


def main() -> None:
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for country in PROFILES:
            ex = write_export(country, tmp, seed=1, dirty=False)
            for shape in RESHAPES:
                truth = reshape_export(ex, shape, tmp)
                score = score_draft(scaffold_mapping(truth.path, country=country), truth)
                rows.append(
                    {
                        "country": country,
                        "shape": shape.name,
                        "columns_right": score.columns_right,
                        "columns_total": score.columns_total,
                        "values_right": score.values_right,
                        "values_wrong": score.values_wrong,
                        "values_unplaced": score.values_unplaced,
                        "values_total": score.values_total,
                        "misses": list(score.wrong),
                    }
                )
    total = {k: sum(r[k] for r in rows) for k in rows[0] if isinstance(rows[0][k], int)}
    by_shape = {
        s.name: {
            "columns": _share(rows, s.name, "columns_right", "columns_total"),
            "values": _share(rows, s.name, "values_right", "values_total"),
        }
        for s in RESHAPES
    }
    result = {
        "columns_share": round(total["columns_right"] / total["columns_total"], 4),
        "values_share": round(total["values_right"] / total["values_total"], 4),
        "values_wrong": total["values_wrong"],
        "totals": total,
        "by_shape": by_shape,
        "runs": rows,
    }
    (HERE / "results").mkdir(exist_ok=True)
    out = HERE / "results" / "mapping_draft.json"
    out.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps({k: v for k, v in result.items() if k != "runs"}))


def _share(rows: list[dict[str, object]], shape: str, right: str, total: str) -> float:
    sel = [r for r in rows if r["shape"] == shape]
    return round(sum(int(r[right]) for r in sel) / sum(int(r[total]) for r in sel), 4)  # type: ignore[call-overload]


if __name__ == "__main__":
    main()

"""Suppression vs the cell key method on the synthetic federation, and differencing attacks
against CKM publications. Results: benchmarks/results/ckm.json.

1. Information kept, per country and table (period 2024, default tables): share of cells
   published (all cells, non-zero cells), and for published cells the mean absolute and
   mean relative (true count > 0) deviation from the true count. Suppression publishes
   exact counts and hides the rest; CKM publishes everything with noise. Also how many
   CKM margins differ from the sum of their published parts (additivity is not kept).
2. Revision differencing: revision 1 lacks one late 2024 record, revision 2 has it. For
   the late record's interior cell of each table, an attacker who knows the ptable (its
   parameters are public) and which record came late:
   - guesses the true difference (1) from the published difference: how often right;
   - estimates the cell's true count by maximum likelihood from both revisions, compared
     with the same attacker holding one publication (chance level for this attacker);
   - looks for the interior cell(s) that changed: how often the changed cells single out
     the late record's cell (the attribute leak CKM does *not* stop, reported honestly).
   Against suppression without history protection the first two succeed every time.
3. A year and its four quarters: for every interior cell whose true Q4 count is 1 … js,
   the attacker computes Y − Q1 − Q2 − Q3 from published counts: how often it equals the
   true Q4 count (it always would for exact counts).

    python benchmarks/bench_ckm.py [TRIALS]        # default 60 trials per country
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import sys
import time
from pathlib import Path

import numpy as np

from vanfed.anonymize import DEFAULT_TABLES, PTable, build_ptable, perturb, protect
from vanfed.errors import InputError
from vanfed.ingest import CodedRecords, ingest
from vanfed.schema import CkmParams, load_codebook, load_mapping
from vanfed.synthetic import PROFILES, write_export

HERE = Path(__file__).parent

PARAMS = CkmParams(max_noise=5, variance=3.0, js=4)
TODAY = dt.date(2026, 11, 22)
ATTACK_COUNTRIES = ("KHM", "LAO", "THA")


def _records(country: str) -> CodedRecords:
    ex = write_export(country, HERE / "data" / "national", seed=2024)
    return ingest(
        ex.path, load_mapping(ex.mapping_path), country=country, today=TODAY, keep_ids=True
    )


def _keys(records: CodedRecords, seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 2**32, len(records), dtype=np.int64)


def _subset(records: CodedRecords, keep: np.ndarray) -> CodedRecords:
    ids = None if records.ids is None else records.ids[keep]
    return dataclasses.replace(
        records, fields={k: v[keep] for k, v in records.fields.items()}, ids=ids
    )


def _ckm(records: CodedRecords, keys: np.ndarray, period: str) -> dict[str, tuple]:
    done = perturb(
        records,
        load_codebook(),
        period=period,
        keys=keys,
        ptable=build_ptable(PARAMS),
        tables=DEFAULT_TABLES,
    )
    return {
        c.spec.name: (c.values, v) for c, v in zip(done.cubes, done.published_values, strict=True)
    }


def _deviation(true: np.ndarray, pub: np.ndarray, shown: np.ndarray) -> dict[str, object]:
    nz = true > 0
    dev = np.abs(pub - true)[shown]
    rel = (np.abs(pub - true) / np.maximum(true, 1))[shown & nz]
    return {
        "cells_published": f"{int(shown.sum())}/{true.size}",
        "share_published": round(float(shown.mean()), 3),
        "nonzero_published": f"{int((shown & nz).sum())}/{int(nz.sum())}",
        "mean_abs_deviation": round(float(dev.mean()) if dev.size else 0.0, 3),
        "mean_abs_deviation_nonzero": round(
            float(np.abs(pub - true)[shown & nz].mean()) if (shown & nz).any() else 0.0, 3
        ),
        "mean_rel_deviation": round(float(rel.mean()) if rel.size else 0.0, 3),
    }


def _not_additive(true_cube_shape: tuple[int, ...], pub: np.ndarray) -> tuple[int, int]:
    """(margins that differ from the sum of their published children, margins checked)."""
    bad = checked = 0
    for ax, n in enumerate(true_cube_shape):
        parts = np.take(pub, range(n - 1), axis=ax).sum(axis=ax)
        total = np.take(pub, n - 1, axis=ax)
        bad += int((parts != total).sum())
        checked += int(total.size)
    return bad, checked


def information_kept() -> list[dict[str, object]]:
    cb = load_codebook()
    out = []
    for country in PROFILES:
        rec = _records(country)
        sup = protect(rec, cb, period="2024")
        ckm = _ckm(rec, _keys(rec, 1), "2024")
        tables = {}
        shown_all, true_all, pub_all = [], [], []
        for cube, ids in zip(sup.cubes, sup.system.cell_var, strict=True):
            true = cube.values.ravel()
            hidden = sup.suppressed[ids].ravel()
            _, pub = ckm[cube.spec.name]
            bad, checked = _not_additive(cube.shape, pub)
            tables[cube.spec.name] = {
                "suppression": _deviation(true, np.where(hidden, 0, true), ~hidden),
                "ckm": {
                    **_deviation(true, pub.ravel(), np.ones(true.size, bool)),
                    "margins_not_additive": f"{bad}/{checked}",
                },
            }
            shown_all.append(~hidden)
            true_all.append(true)
            pub_all.append(pub.ravel())
        shown, true_cat = np.concatenate(shown_all), np.concatenate(true_all)
        every = _deviation(
            np.concatenate(true_all),
            np.concatenate(pub_all),
            np.ones(sum(map(len, true_all)), bool),
        )
        out.append(
            {
                "country": country,
                "records_in_2024": int(sup.cubes[0].values.flat[-1]),
                "suppression_all_tables": _deviation(true_cat, np.where(shown, true_cat, 0), shown),
                "ckm_share_published": 1.0,
                "ckm_all_tables": every,
                "tables": tables,
            }
        )
        print(country, "information kept done", file=sys.stderr)
    return out


def _likelihood(t: PTable, n: int, r: int) -> float:
    v, p = t.probabilities(min(n, t.rows - 1))
    return float(p[(n + v) == r].sum())


def _ml(t: PTable, observed: list[tuple[int, int]], prior: range) -> int:
    """Max-likelihood true count n given (offset, published) pairs: published ~ n + offset."""
    scores = [np.prod([_likelihood(t, n + off, r) for off, r in observed]) for n in prior]
    return prior[int(np.argmax(scores))]


def _late_cell(true1: np.ndarray, true2: np.ndarray) -> tuple[int, ...] | None:
    """The interior cell the late record joined (true counts differ by one there)."""
    inner = tuple(slice(0, n - 1) for n in true1.shape)
    d = (true2 - true1)[inner]
    hits = np.argwhere(d == 1)
    return tuple(int(x) for x in hits[0]) if len(hits) == 1 else None


def revision_attack(country: str, trials: int) -> dict[str, object]:
    rec = _records(country)
    t = build_ptable(PARAMS)
    in_2024 = np.flatnonzero(rec.fields["year"] == 2024)
    rng = np.random.default_rng(7)
    stats = {"cells": 0, "diff_right": 0, "ml_two": 0, "ml_one": 0, "located": 0, "small": 0}
    chance_locate = []
    for trial in range(trials):
        late = int(rng.choice(in_2024))
        keys = _keys(rec, 100 + trial)
        keep = np.ones(len(rec), bool)
        keep[late] = False
        rev1 = _ckm(_subset(rec, keep), keys[keep], "2024")
        rev2 = _ckm(rec, keys, "2024")
        for name, (true2, pub2) in rev2.items():
            true1, pub1 = rev1[name]
            cell = _late_cell(true1, true2)
            if cell is None:
                continue  # the table's filter leaves the late record out
            inner = tuple(slice(0, n - 1) for n in true1.shape)
            d = (pub2 - pub1)[inner]
            n2 = int(true2[inner][cell])
            stats["cells"] += 1
            stats["small"] += int(n2 <= 2 * PARAMS.js)
            stats["diff_right"] += int(d[cell] == 1)
            prior = range(0, max(60, n2 + 20))
            two = _ml(t, [(-1, int(pub1[inner][cell])), (0, int(pub2[inner][cell]))], prior)
            one = _ml(t, [(0, int(pub2[inner][cell]))], prior)
            stats["ml_two"] += int(two == n2)
            stats["ml_one"] += int(one == n2)
            changed = np.argwhere(d != 0)
            stats["located"] += int(len(changed) == 1 and tuple(changed[0]) == cell)
            chance_locate.append(1 / d.size)
    n = stats["cells"]
    return {
        "country": country,
        "trials": trials,
        "late_record_cells": n,
        "of_which_true_count_at_most_2js": stats["small"],
        "difference_guess_right": round(stats["diff_right"] / n, 3),
        "difference_guess_right_suppression_without_history": 1.0,
        "ml_count_right_two_revisions": round(stats["ml_two"] / n, 3),
        "ml_count_right_one_publication": round(stats["ml_one"] / n, 3),
        "late_cell_singled_out_by_change": round(stats["located"] / n, 3),
        "late_cell_chance_of_a_blind_guess": round(float(np.mean(chance_locate)), 3),
    }


def quarter_attack(country: str, seeds: int = 5) -> dict[str, object]:
    rec = _records(country)
    right = total = exact_published = 0
    for seed in range(seeds):
        keys = _keys(rec, 500 + seed)
        year = _ckm(rec, keys, "2024")
        quarters = []
        for q in range(1, 5):
            try:
                quarters.append(_ckm(rec, keys, f"2024-Q{q}"))
            except InputError:  # a quarter without records: nothing published for it
                quarters.append(None)
        if any(q is None for q in quarters):
            continue
        for name, (_true_y, pub_y) in year.items():
            true_q4 = quarters[3][name][0]
            est = pub_y - sum(quarters[i][name][1] for i in range(3))
            small = (true_q4 >= 1) & (true_q4 <= PARAMS.js)
            total += int(small.sum())
            right += int((est[small] == true_q4[small]).sum())
            exact_published += int((quarters[3][name][1][small] == true_q4[small]).sum())
    return {
        "country": country,
        "small_q4_cells": total,
        "y_minus_q1_q2_q3_equals_true_q4": round(right / total, 3) if total else None,
        "published_q4_equals_true_q4": round(exact_published / total, 3) if total else None,
        "blind_guess_in_1_to_js": round(1 / PARAMS.js, 3),
        "same_attack_on_exact_counts": 1.0,
    }


def main(trials: int) -> None:
    t0 = time.perf_counter()
    build_ptable(PARAMS)
    ptable_secs = time.perf_counter() - t0
    info = information_kept()
    revisions = [revision_attack(c, trials) for c in ATTACK_COUNTRIES]
    for r in revisions:
        print(json.dumps(r), file=sys.stderr)
    quarters = [quarter_attack(c) for c in ATTACK_COUNTRIES]
    for q in quarters:
        print(json.dumps(q), file=sys.stderr)
    (HERE / "results").mkdir(exist_ok=True)
    (HERE / "results" / "ckm.json").write_text(
        json.dumps(
            {
                "ckm_params": PARAMS.model_dump(),
                "ptable_digest": build_ptable(PARAMS).digest,
                "ptable_build_seconds": round(ptable_secs, 2),
                "suppression": {"k": 5, "s": 5},
                "information_kept_national_2024": info,
                "revision_differencing": revisions,
                "year_minus_quarters": quarters,
            },
            indent=1,
        )
        + "\n"
    )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 60)

"""The secure regional path attacked jointly with everything national (issue 20).

Five synthetic member states (THA is tiny: about 14 records a year, many suppressed cells)
publish their national summaries through the node's real path and take part in secure
rounds (announce, contribute — checks, budget, noise, masks —, sum at a ``RoundBook``).
The independent attacker of ``tests/secure_attacker.py`` is handed everything published:
every national summary of every period and revision, every complete round's raw noisy
sums and, where a test says so, what a node colluding with the coordinator knows (its own
exact counts and noise shares). It attacks three ways:

* **certain knowledge** (LP/MILP, noise bounded at its 1e-9 tail): every suppressed
  primary (true value 1 … k−1) of a non-colluding country, and every change of 1 … k−1
  records between revisions, keeps an interval at least ``s`` wide — the national rule;
* **statistical knowledge**, two attackers: the exact per-key Bayesian (Skellam likelihood
  of every measurement of a cell key, uniform prior on the certain interval, other
  countries' unknown cells of the key integrated out: differencing) and the joint
  linear-Gaussian one (every cell of a year at once, national additivity exact). Their
  exact guesses and their largest posterior probability of a truth must stay within what
  the announced noise of the rounds allows, over fresh draws of that noise
  (``null_bounds``: exact guesses up to 4.5 standard deviations above their mean, the
  largest posterior up to its 99.9 % quantile): a node that adds less noise than it
  announces, or sums whose noise is not independent, fail it. And every sum the attacker
  holds is charged in every contributor's privacy ledger, within the budget: no sum
  escapes the accounting (``assert_charged``);
* and the attack has teeth: the same attacker breaks a round without noise, and a round
  replayed 15 times (nodes that kept no budget) beats what one round allows.

Each attack prints one line (run with ``-s`` to see the numbers).
"""

from __future__ import annotations

import shutil
import time
from dataclasses import dataclass

import numpy as np
import pytest
from tests.integration._secure_world import (
    TABLES,
    RoundRun,
    World,
    book_of,
    regional_truth,
    replayed,
    unmasked,
)
from tests.secure_attacker import (
    Cell,
    Change,
    Insider,
    Interval,
    Key,
    NullBounds,
    Observation,
    Posterior,
    Scores,
    SecureAttacker,
    cells,
    null_bounds,
    observed,
    score,
)

from vanfed._ledger import Ledger
from vanfed.aggregate import Selected, merge
from vanfed.errors import ProtectionError, ReasonCode
from vanfed.schema import MODULUS, RegionalReport, RoundTable, Summary, load_codebook
from vanfed.secure import apply_round, epsilon, round_rdp
from vanfed.secure._budget import SECURE_FOLDER, PrivacyLedger
from vanfed.signing import CONTRIBUTION_PROFILE, envelope_digest, verify
from vanfed.testing import Trust

K = S = 5
REPS = 1000  # fresh noise draws of the null: its 99.9 % quantile
LEVEL = 0.999
OTHERS = ("KHM", "LAO", "MMR", "VNM")
SEX_AGE = tuple(t for t in TABLES if t.name == "casualties_by_sex_age")
CB = load_codebook()


# --- the attack and its verdict ------------------------------------------------------------


@dataclass(repr=False)
class Verdict:
    """What the attacker found in one scenario (numbers for the report)."""

    label: str
    primaries: list[Interval]  # suppressed primaries of non-colluding countries
    changes: list[Interval]  # changes of 1 … k-1 records between revisions
    per_key: Scores
    per_key_null: NullBounds
    alone: Scores  # per-key, the cells a regional cell leaves as the only unknown
    alone_null: NullBounds
    joint: Scores
    joint_null: NullBounds
    national: Scores  # the joint attacker without any round: what the nation alone gives
    posts: dict[Cell, Posterior]
    joint_posts: dict[Cell, Posterior]
    seconds: float

    def line(self) -> str:
        widths = [i.width for i in self.primaries]
        return (
            f"{self.label}: {len(self.primaries)} primaries, min width {min(widths)}"
            f" ({sum(w == min(widths) for w in widths)} at it), {len(self.changes)} small changes"
            + (f" min width {min(i.width for i in self.changes)}" if self.changes else "")
            + f" | per-key {_rates(self.per_key, self.per_key_null)}"
            f" | alone {_rates(self.alone, self.alone_null)}"
            f" | joint {_rates(self.joint, self.joint_null)}"
            f" (national alone {self.national.hits:.0f} exact, top {self.national.top:.3f})"
            f" | {self.seconds:.1f} s"
        )

    def __repr__(self) -> str:
        return f"<{self.label}>"


def _rates(s: Scores, n: NullBounds) -> str:
    return (
        f"{s.hits:.0f}/{s.targets} exact (null {n.mean_hits:.1f}, ≤{n.hits:.0f}),"
        f" top {s.top:.3f} (≤{n.top:.3f}), uniform {s.prior_hit:.3f}"
    )


def attack(
    label: str,
    summaries: list[Summary],
    observations: list[Observation],
    truth: dict[Cell, int],
    *,
    insiders: tuple[Insider, ...] = (),
    assumption: str = "added",
    reps: int = REPS,
) -> Verdict:
    t0 = time.perf_counter()
    att = SecureAttacker(summaries, observations, insiders, assumption=assumption)
    intervals = att.intervals()
    wrong = [i for i in intervals if not i.lo <= _true(i.cell, truth) <= i.hi]
    assert not wrong, f"the attacker's certain knowledge excludes the truth: {wrong[:3]}"
    colluding = {i.country for i in insiders}
    mine = [i for i in intervals if i.cell.country not in colluding]
    primaries = [i for i in mine if isinstance(i.cell, Cell) and 0 < truth[i.cell] < K]
    changes = [i for i in mine if isinstance(i.cell, Change) and 0 < _true(i.cell, truth) < K]
    targets = [i.cell for i in primaries]
    posts = att.posteriors(intervals)
    alone = [t for t in targets if t in posts and posts[t].others == 0]
    null = att.null(intervals, truth, targets, reps=reps)
    joint = att.joint(intervals)
    joint_null = att.joint_null(intervals, truth, targets, reps=reps)
    nation = _national(tuple(summaries), insiders, assumption)
    v = Verdict(
        label,
        primaries,
        changes,
        score(posts, truth, targets),
        null_bounds(null, targets, level=LEVEL),
        score(posts, truth, alone),
        null_bounds(null, alone, level=LEVEL),
        score(joint, truth, targets),
        null_bounds(joint_null, targets, level=LEVEL),
        score(nation, truth, [t for t in targets if t in joint]),
        posts,
        joint,
        time.perf_counter() - t0,
    )
    print(v.line())
    return v


_NATIONAL: dict[tuple, tuple[tuple[Summary, ...], dict[Cell, Posterior]]] = {}


def _national(
    summaries: tuple[Summary, ...], insiders: tuple[Insider, ...], assumption: str
) -> dict[Cell, Posterior]:
    """The joint attacker on the national publications alone (and the colluders)."""
    key = (tuple(id(s) for s in summaries), tuple(i.country for i in insiders), assumption)
    if key not in _NATIONAL:
        att = SecureAttacker(summaries, [], insiders, assumption=assumption)
        _NATIONAL[key] = (summaries, att.joint(att.intervals(), unmeasured=True))
    return _NATIONAL[key][1]


def _true(what: Cell | Change, truth: dict[Cell, int]) -> int:
    if isinstance(what, Cell):
        return truth[what]
    a, b = what.cells
    return truth[b] - truth[a]


def assert_safe(v: Verdict) -> None:
    """The national rule holds for certain knowledge, and neither statistical attacker
    does better than the announced noise allows."""
    assert v.primaries, "the scenario has suppressed primaries to attack"
    narrow = [i for i in v.primaries if i.width < S]
    assert not narrow, f"{v.label}: suppressed primaries narrowed below s: {narrow[:3]}"
    narrow = [i for i in v.changes if i.width < S]
    assert not narrow, f"{v.label}: changes between revisions narrowed below s: {narrow[:3]}"
    for name, s, n in (("per-key", v.per_key, v.per_key_null), ("joint", v.joint, v.joint_null)):
        assert s.targets > 0, f"{v.label}: the {name} attacker found nothing to attack"
        assert s.hits <= n.hits, f"{v.label}: {name} guesses {s.hits} exactly, noise allows {n}"
        assert s.top <= n.top + 1e-9, f"{v.label}: {name} posterior {s.top:.3f}, allowed {n}"


@dataclass
class Scenario:
    """A world and a snapshot of what was published in it."""

    world: World
    summaries: list[Summary]
    runs: list[RoundRun]
    truth: dict[Cell, int]

    def runs_of(self, period: str) -> list[RoundRun]:
        return [r for r in self.runs if r.announcement.period == period]

    def observations(self, runs: list[RoundRun] | None = None) -> list[Observation]:
        return [
            observed(r.announcement, r.result)
            for r in (self.runs if runs is None else runs)
            if r.result.status == "complete"
        ]


def snapshot(world: World) -> Scenario:
    return Scenario(world, world.summaries(), list(world.rounds), world.truth())


def assert_charged(scenario: Scenario, observations: list[Observation]) -> None:
    """Every sum the attacker holds is a round each of its contributors charged in its
    privacy ledger, and no contributor has spent more than the registry's budget."""
    policy = scenario.world.trust.registry.policy.secure
    assert policy is not None
    ledgers: dict[str, tuple[PrivacyLedger, set[str]]] = {}
    for obs in observations:
        for country in obs.members:
            if country not in ledgers:
                folder = scenario.world.members[country].node.ledger.folder / SECURE_FOLDER
                ledger = PrivacyLedger(folder)
                ledgers[country] = (ledger, {a.round_id for a in ledger.rounds()})
                total = ledger.spent(obs.period, policy.delta)
                assert total.epsilon <= policy.epsilon_budget
                assert total.rounds <= policy.max_rounds
            assert obs.round_id in ledgers[country][1], (country, obs.round_id)


# --- the scenarios ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def yearly(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Scenario:
    """2023 and 2024 published, one round each."""
    w = World(tmp_path_factory.mktemp("yearly"), trust)
    w.publish("2023")
    w.publish("2024")
    w.round("2023", seed="yearly-2023")
    w.round("2024", seed="yearly-2024")
    return snapshot(w)


@pytest.fixture(scope="module")
def revised(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Scenario:
    """2024 r1 (70 % of the records) and its round, then r2 (all of them) and its round."""
    w = World(tmp_path_factory.mktemp("revised"), trust)
    w.publish("2024", share=0.7)
    w.round("2024", seed="revised-r1")
    w.publish("2024")
    w.round("2024", seed="revised-r2")
    assert {p.summary.revision for m in w.members.values() for p in m.pubs} == {1, 2}
    return snapshot(w)


@pytest.fixture(scope="module")
def dropout(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Scenario:
    """A round THA misses (aborted), its re-run with the other four, and later a round of
    all five (THA back): rounds with and without a country."""
    w = World(tmp_path_factory.mktemp("dropout"), trust)
    w.publish("2024")
    aborted = w.round("2024", seed="dropout-1", missing=("THA",))
    assert aborted.result.status == "aborted" and aborted.result.missing == ("THA",)
    assert not aborted.result.sums
    w.round("2024", OTHERS, seed="dropout-2")
    w.round("2024", seed="dropout-3")
    return snapshot(w)


@pytest.fixture(scope="module")
def budget(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Scenario:
    """2024 summed again and again until the nodes refuse (the default budget)."""
    w = World(tmp_path_factory.mktemp("budget"), trust)
    w.publish("2024")
    with pytest.raises(ProtectionError) as refused:
        for i in range(50):
            w.round("2024", seed=f"budget-{i}")
    assert refused.value.reason == ReasonCode.BUDGET_EXHAUSTED
    return snapshot(w)


@pytest.fixture(scope="module")
def plain(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> World:
    """2024 published; the protocol tests run their own rounds in it."""
    w = World(tmp_path_factory.mktemp("plain"), trust)
    w.publish("2024")
    return w


# --- (a) one round per period -----------------------------------------------------------------


def test_one_round_per_year(yearly: Scenario) -> None:
    v = attack(
        "(a) 2023 + 2024, a round each", yearly.summaries, yearly.observations(), yearly.truth
    )
    assert_safe(v)
    assert_charged(yearly, yearly.observations())
    assert {c.period for c in v.posts} == {"2023", "2024"}
    assert any(c.country == "THA" for c in v.posts), "THA's cells are attacked too"


# --- (b) revisions, each with its round ---------------------------------------------------------


@pytest.mark.parametrize("assumption", ["added", pytest.param("any", marks=pytest.mark.slow)])
def test_revisions_each_with_its_round(revised: Scenario, assumption: str) -> None:
    v = attack(
        f"(b) 2024 r1 + round, r2 + round, revisions {assumption}",
        revised.summaries,
        revised.observations(),
        revised.truth,
        assumption=assumption,
    )
    assert_safe(v)
    assert_charged(revised, revised.observations())
    assert {c.revision for c in v.posts} == {1, 2}
    if assumption == "added":
        assert v.changes, "late records in suppressed cells are attacked as changes"


# --- (c) a dropout, a re-run, rounds with and without a country ------------------------------


def test_a_round_rerun_after_a_dropout(dropout: Scenario) -> None:
    first_two = dropout.runs[:2]
    v = attack(
        "(c) aborted (THA missing) + re-run without THA",
        dropout.summaries,
        dropout.observations(first_two),
        dropout.truth,
    )
    assert_safe(v)
    assert len(dropout.observations(first_two)) == 1  # the aborted round has no sums
    assert not any(c.country == "THA" for c in v.posts), "THA is in no sum"


def test_rounds_with_and_without_a_country(dropout: Scenario) -> None:
    """The re-run without THA and the later round with it: their difference is THA's
    counts plus two rounds' noise, every cell — the other countries' unknowns cancel."""
    v = attack(
        "(c) rounds with and without THA (differencing)",
        dropout.summaries,
        dropout.observations(),
        dropout.truth,
    )
    assert_safe(v)
    assert_charged(dropout, dropout.observations())
    tha = [c for c in v.posts if c.country == "THA" and c in {i.cell for i in v.primaries}]
    assert any(v.posts[c].others > 0 for c in tha), "THA attacked through the difference"


def test_the_missing_node_and_the_coordinator_unmask_an_aborted_round(
    dropout: Scenario, trust: Trust
) -> None:
    """THA missed the first round. The coordinator alone gets nothing from the four
    contributions it holds (THA's pairwise masks do not cancel); but if THA colludes, its
    own masks unmask the sum of the other four (with their noise shares). That is why every
    node charges a round it contributed to, complete or not — and the four stay safe."""
    w = dropout.world
    aborted, rerun = dropout.runs[:2]
    obs = unmasked(w, aborted, "THA")
    truth = regional_truth(w, aborted)
    ann = aborted.announcement
    for t in ann.tables:  # the unmasked sums are the counts plus small noise…
        noise = np.array(obs.sums[t.name]) - truth[t.name]
        assert np.abs(noise).max() < 40
    garbage = []  # …which the coordinator alone cannot get: THA's masks stay in
    for t in ann.tables:
        total = np.zeros(t.cells, np.uint64)
        for con in aborted.contributions.values():
            vec = next(m.values for m in con.tables if m.name == t.name)
            total = (total + np.array(vec, np.uint64)) % MODULUS
        signed = np.where(total >= MODULUS // 2, total.astype(np.int64) - MODULUS, total)
        garbage += list(np.abs(signed - truth[t.name]))
    assert np.median(garbage) > 2**28
    assert_charged(dropout, [obs])  # every contributor charged the aborted round
    v = attack(
        "(c)+(d) aborted round unmasked by missing THA + re-run",
        dropout.summaries,
        [obs, *dropout.observations([rerun])],
        dropout.truth,
        insiders=(w.insider("THA"),),
    )
    assert_safe(v)


# --- (d) the coordinator with one colluding node ----------------------------------------------


@pytest.mark.parametrize("colluder", OTHERS)
def test_the_coordinator_with_one_colluding_node(yearly: Scenario, colluder: str) -> None:
    """The coordinator and one node, which subtracts its own counts and noise share: the
    others still face the honest noise (each share is 1/(n − collusion) of it)."""
    v = attack(
        f"(d) 2024, coordinator + {colluder}",
        [s for s in yearly.summaries if s.period == "2024"],
        yearly.observations(yearly.runs_of("2024")),
        yearly.truth,
        insiders=(yearly.world.insider(colluder),),
    )
    assert_safe(v)
    assert not any(c.country == colluder for c in v.posts)


@pytest.fixture(scope="module")
def budget_attack(budget: Scenario) -> Verdict:
    return attack(
        f"budget: {len(budget.runs)} rounds of 2024, coordinator + KHM",
        budget.summaries,
        budget.observations(),
        budget.truth,
        insiders=(budget.world.insider("KHM"),),
    )


def _admitted(tables: tuple[RoundTable, ...], trust: Trust) -> int:
    """How many rounds of these tables the registry's budget admits for one year group: as
    many as its ε allows, and no more than its max_rounds."""
    policy = trust.registry.policy.secure
    assert policy is not None
    rdp = round_rdp(tables, policy.noise)
    by_epsilon = max(
        k for k in range(1, 1000) if epsilon(k * rdp, policy.delta) <= policy.epsilon_budget
    )
    return min(by_epsilon, policy.max_rounds)


def test_every_round_the_budget_allows_is_as_announced(
    budget: Scenario, budget_attack: Verdict, trust: Trust
) -> None:
    """The nodes take every round of the same 2024 records the budget admits, then refuse;
    the attacker holding all of them, with a colluder, does no better than their noise
    allows."""
    assert len(budget.runs) == _admitted(TABLES, trust) >= 2
    assert_charged(budget, budget.observations())
    assert_safe(budget_attack)


def assert_more_likely_hidden(v: Verdict) -> None:
    """A suppressed primary that the regional cells leave as the only unknown (every other
    country published it, or colludes) is, from the national publications alone, one of at
    least s + 1 values: a guess is right with probability ≤ 1/6 (one round of the default
    noise lifts that to about 1/4). Within the budget, the coordinator and one colluder
    (the stated collusion) should still be wrong more often than right: expected exact
    guesses of the per-key Bayesian, over the announced noise, at most half."""
    assert v.alone.targets > 0
    expected = v.alone_null.mean_hits / v.alone.targets
    assert expected <= 0.5, (
        f"{v.label}: expected {expected:.2f} exact; this draw {v.alone.hits:.0f}/"
        f"{v.alone.targets}, largest posterior of a truth {v.alone.top:.3f}"
    )


def test_full_rounds_within_the_budget_keep_isolated_primaries_more_likely_hidden(
    budget_attack: Verdict,
) -> None:
    assert_more_likely_hidden(budget_attack)


@pytest.fixture(scope="module")
def one_table(tmp_path_factory: pytest.TempPathFactory, trust: Trust) -> Scenario:
    """KHM, MMR and THA publish 2024; the coordinator opens rounds of one table only
    (sex × age × outcome) until the nodes refuse."""
    w = World(tmp_path_factory.mktemp("one-table"), trust, countries=("KHM", "MMR", "THA"))
    w.publish("2024")
    with pytest.raises(ProtectionError) as refused:
        for i in range(200):
            w.round("2024", seed=f"one-table-{i}", tables=SEX_AGE)
    assert refused.value.reason == ReasonCode.BUDGET_EXHAUSTED
    return snapshot(w)


@pytest.fixture(scope="module")
def one_table_attack(one_table: Scenario) -> Verdict:
    return attack(
        f"one table: {len(one_table.runs)} rounds of sex × age × outcome, coordinator + KHM",
        one_table.summaries,
        one_table.observations(),
        one_table.truth,
        insiders=(one_table.world.insider("KHM"),),
    )


def test_one_table_rounds_within_the_budget_are_as_announced(
    one_table: Scenario, one_table_attack: Verdict, trust: Trust
) -> None:
    """Rounds of one table cost less ε, but the budget admits no more of them than of full
    rounds (max_rounds: found by this attacker, which averaged thirty such rounds when
    only ε was capped); each is as announced (the attacker does no better than their noise
    allows)."""
    assert len(one_table.runs) == _admitted(SEX_AGE, trust) == _admitted(TABLES, trust)
    assert_charged(one_table, one_table.observations())
    assert_safe(one_table_attack)


def test_one_table_rounds_within_the_budget_keep_isolated_primaries_more_likely_hidden(
    one_table_attack: Verdict,
) -> None:
    assert_more_likely_hidden(one_table_attack)


# --- protocol: a contribution sent twice, or replayed -----------------------------------------


def test_a_resent_contribution_counts_once(plain: World, trust: Trust) -> None:
    """A node asked again sends the very same envelope (no second noise draw), and the
    door takes the repeat without counting it twice. A node that lost its privacy ledger
    makes a different one: the door refuses it, so no round holds two draws of a node."""
    w = plain
    run = w.round("2024", seed="twice")
    again = w.send("THA", run.envelope, "another-seed", w.clock)
    assert again == run.envelopes["THA"]
    book = book_of(w, run)
    r = book.rounds[run.announcement.round_id]
    con = verify(again, trust.registry, now=w.clock, profile=CONTRIBUTION_PROFILE)
    assert r.refusal(con, envelope_digest(again), w.clock) is None  # a repeat, taken
    book.contribute(con, envelope_digest(again), None)
    result = r.result_now(w.clock)
    assert result is not None and result.sums == run.result.sums
    forgetful = w.folder / "forgetful"
    shutil.copytree(w.members["THA"].node.ledger.folder, forgetful)
    shutil.rmtree(forgetful / SECURE_FOLDER)
    other = w.send("THA", run.envelope, "forgetful", w.clock, ledger=Ledger(forgetful))
    assert other != again
    second = verify(other, trust.registry, now=w.clock, profile=CONTRIBUTION_PROFILE)
    r = book_of(w, run).rounds[run.announcement.round_id]
    refusal = r.refusal(second, envelope_digest(other), w.clock)
    assert refusal is not None and refusal.reason == ReasonCode.CONFLICTING_CONTRIBUTION


def test_a_replayed_contribution_is_refused_and_its_masks_do_not_cancel(
    plain: World, trust: Trust
) -> None:
    """THA's contribution to one round, replayed into the next: the door refuses it, and a
    coordinator that sums it anyway gets masks that do not cancel (they are salted with
    each announcement), i.e. numbers spread over the whole 32-bit range — never a sum."""
    w = plain
    first = w.round("2024", seed="replay-1")
    second = w.round("2024", seed="replay-2", missing=("THA",))
    old = first.contributions["THA"]
    r = book_of(w, second).rounds[second.announcement.round_id]
    refusal = r.refusal(old, envelope_digest(first.envelopes["THA"]), w.clock)
    assert refusal is not None and refusal.reason == ReasonCode.ANNOUNCEMENT_MISMATCH
    truth = regional_truth(w, first)
    spread = []
    for t in second.announcement.tables:
        total = np.zeros(t.cells, np.uint64)
        for con in (*second.contributions.values(), old):
            vec = next(m.values for m in con.tables if m.name == t.name)
            total = (total + np.array(vec, np.uint64)) % MODULUS
        signed = np.where(total >= MODULUS // 2, total.astype(np.int64) - MODULUS, total)
        spread += list(np.abs(signed - truth[t.name]))
    assert np.median(spread) > 2**28


# --- post-processing ------------------------------------------------------------------------


def _report(scenario: Scenario, run: RoundRun) -> RegionalReport:
    """The regional report of the round's period: merged from the national publications
    the round names, its region rows replaced by the round's estimates."""
    w, ann = scenario.world, run.announcement
    chosen = []
    for p in ann.participants:
        pub = next(x for x in w.members[p.country].pubs if x.digest == p.summary)
        chosen.append(Selected(pub.summary, pub.digest, f"{p.country}.dsse.json"))
    body = merge(
        chosen, period=ann.period, report_id="0" * 32, created_at=ann.created_at, codebook=CB
    )
    return apply_round(
        body, ann, run.result, announcement_digest=run.digest, result_digest="sha256:" + "0" * 64
    )


def test_post_processed_estimates_add_nothing(yearly: Scenario) -> None:
    """The report's region rows (the round's estimates: exact integer post-processing of
    the raw sums inside the national bounds) are a function of public inputs only — made
    again from them they are the same — and reading a country's cell off them (the region
    estimate less the other countries' published cells) guesses no better than the joint
    attacker may from the raw sums."""
    (run,) = yearly.runs_of("2024")
    ann, truth = run.announcement, yearly.truth
    report = _report(yearly, run)
    assert report == _report(yearly, run)
    assert report.secure is not None and report.secure.tables
    region: dict[Key, int] = {}
    for t in report.tables:
        if not t.estimated:
            continue
        n = len(t.axes[0].codes)  # the country axis, the region last
        values = np.array([-1 if v is None else v for v in t.values]).reshape(n, -1)[-1]
        for (key, _), v in zip(cells(t.axes[1:], t.filter), values, strict=True):
            region.setdefault(key, int(v))  # a key in several tables: the first one
    pubs = [s for s in yearly.summaries if s.period == "2024"]
    att = SecureAttacker(pubs, yearly.observations([run]))
    intervals = att.intervals()
    posts = att.posteriors(intervals)
    primaries = [i.cell for i in intervals if isinstance(i.cell, Cell) and 0 < truth[i.cell] < K]
    alone = [c for c in primaries if c in posts and posts[c].others == 0 and c.key in region]
    hits = 0
    for c in alone:
        others = sum(
            truth[Cell(p.country, "2024", p.revision, c.key)]  # published: they are alone
            for p in ann.participants
            if p.country != c.country
        )
        hits += region[c.key] - others == truth[c]
    bound = null_bounds(att.joint_null(intervals, truth, alone), alone, level=LEVEL)
    print(f"estimates: {hits}/{len(alone)} isolated primaries read off exactly (≤{bound.hits:.1f})")
    assert alone
    assert hits <= bound.hits


# --- the attack has teeth ----------------------------------------------------------------------


def test_the_attack_breaks_a_round_without_noise_and_a_replayed_round(yearly: Scenario) -> None:
    """The same attacker, on weakened setups: the 2024 round without its noise pins
    suppressed primaries outright; the round replayed 15 times with fresh noise (nodes
    that kept no budget) beats what one round's noise allows."""
    w = yearly.world
    run = next(r for r in yearly.runs if r.announcement.period == "2024")
    pubs = [s for s in yearly.summaries if s.period == "2024"]
    truth = yearly.truth
    honest = attack("teeth: one honest round (2024)", pubs, yearly.observations([run]), truth)
    assert_safe(honest)
    exact = attack(
        "teeth: the round without noise", pubs, replayed(w, run, 1, seed=1, noise=False), truth
    )
    assert min(i.width for i in exact.primaries) < S
    assert exact.per_key.top == pytest.approx(1.0)
    many = attack("teeth: the round replayed 15 times", pubs, replayed(w, run, 15, seed=2), truth)
    assert min(i.width for i in many.primaries) >= S  # certain knowledge still holds…
    assert many.per_key.top > honest.per_key_null.top  # …the statistical one does not
    assert many.joint.hits > honest.joint_null.hits

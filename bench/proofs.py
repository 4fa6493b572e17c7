"""``proofs``: inclusion proofs at size N from the database, ours against pymerkle.

Both sides prove the same K random leaves in three modes: with an empty cache for each
proof (ours a new ``Log``, pymerkle ``cache_clear()``), then one object's first pass
over the leaves and its second pass, when its in-memory cache is warm. Every proof is
checked afterwards, untimed, against the root; pymerkle's paths must equal ours.
"""

from __future__ import annotations

import random
from typing import Any

from bench import report
from bench.measure import Measurement, measure
from bench.run import Run, best, samples_json, say

TARGET = 30.0  # ours / pymerkle proofs per second


def bench_proofs(run: Run) -> dict[str, Any]:
    """Time inclusion proofs at size N for the same random leaves, ours against pymerkle's."""
    run.fill()
    from cosignatory.tlog.hashing import leaf_hash
    from cosignatory.tlog.proofs import verify_inclusion

    n = run.entry_count
    rng = random.Random(run.seed + 1)
    indices = [rng.randrange(n) for _ in range(run.proof_count)]
    cold = indices[: run.pymerkle_cold_count]
    ws = run.workspace
    modes = ("empty cache for each proof", "one object, first pass", "one object, second pass")
    ours: dict[str, list[Measurement]] = {mode: [] for mode in modes}
    theirs: dict[str, list[Measurement]] = {mode: [] for mode in modes}
    our_proofs: list[list[bytes]] = []
    their_proofs: list[tuple[int, Any]] = []
    tree = ws.pymerkle_tree()

    def ours_round() -> None:
        say(f"cosignatory: {len(indices):,} proofs per mode at size {n:,}")
        proofs, m = measure(
            modes[0], len(indices), lambda: [ws.fresh_log().prove_inclusion(i, n) for i in indices]
        )
        our_proofs.extend(proofs)
        ours[modes[0]].append(m)
        log = ws.fresh_log()
        for mode in modes[1:]:
            proofs, m = measure(
                mode, len(indices), lambda: [log.prove_inclusion(i, n) for i in indices]
            )
            our_proofs.extend(proofs)
            ours[mode].append(m)

    def theirs_round() -> None:
        say(f"pymerkle: {len(cold):,} proofs with a cleared cache, {len(indices):,} per pass")

        def cleared() -> list[Any]:
            proofs = []
            for i in cold:
                tree.cache_clear()
                proofs.append(tree.prove_inclusion(i + 1, n))  # pymerkle counts from one
            return proofs

        proofs, m = measure(modes[0], len(cold), cleared)
        their_proofs.extend(zip(cold, proofs, strict=True))
        theirs[modes[0]].append(m)
        tree.cache_clear()
        for mode in modes[1:]:
            proofs, m = measure(
                mode, len(indices), lambda: [tree.prove_inclusion(i + 1, n) for i in indices]
            )
            their_proofs.extend(zip(indices, proofs, strict=True))
            theirs[mode].append(m)

    for attempt in range(run.repeat):
        for step in (ours_round, theirs_round)[:: 1 if attempt % 2 == 0 else -1]:
            step()

    say("verifying every proof against the roots (not timed)")
    entries = run.entries
    our_root = ws.log().root(n)
    their_root = tree.get_root(n)
    tree.close()
    expected: dict[int, list[bytes]] = {}
    for proof, index in zip(our_proofs, indices * (len(modes) * run.repeat), strict=True):
        verify_inclusion(leaf_hash(entries[index]), index, n, proof, our_root)  # raises
        expected[index] = proof
    same_paths = True
    for index, proof in their_proofs:
        # Raises pymerkle.InvalidProof if wrong. Its path starts with the leaf hash.
        proof.verify(leaf_hash(entries[index]), their_root, index=index + 1, size=n)
        same_paths = same_paths and proof.path[1:] == expected[index]
    roots_agree = our_root == their_root

    rows = []
    ratios = {}
    for mode in modes:
        m_ours, m_theirs = best(ours[mode]), best(theirs[mode])
        speed = m_theirs.micros / m_ours.micros
        ratios[mode] = round(speed, 2)
        rows.append(
            [
                mode,
                report.micros(m_ours.micros),
                report.count(m_ours.rate),
                report.micros(m_theirs.micros),
                report.count(m_theirs.rate),
                report.ratio(speed),
                f"{m_ours.count:,} / {m_theirs.count:,}",
            ]
        )
    figures = {
        "size": n,
        "repeat": run.repeat,
        "indices_seed": run.seed + 1,
        "ours": {mode: samples_json(ours[mode]) for mode in modes},
        "pymerkle": {mode: samples_json(theirs[mode]) for mode in modes},
        "ratio_ours_over_pymerkle": ratios,
        "target": TARGET,
        "target_met": {mode: value >= TARGET for mode, value in ratios.items()},
        "verified": {"ours": len(our_proofs), "pymerkle": len(their_proofs)},
        "roots_agree": roots_agree,
        "paths_agree": same_paths,
    }

    print(f"\n## proofs: inclusion proofs at size {n:,} from the database (best of {run.repeat})\n")
    print(
        "Both sides prove the same random leaves. Empty cache for each proof: ours a new Log "
        "(empty tile cache), pymerkle cache_clear() before each proof. One object: one Log "
        "or SqliteTree, fresh at its first pass over the leaves, then a second pass."
    )
    print()
    headers = [
        "mode",
        "ours µs",
        "ours /s",
        "pymerkle µs",
        "pymerkle /s",
        "ours/pymerkle",
        "proofs",
    ]
    print(report.table(headers, rows))
    print()
    met = [mode for mode, ok in figures["target_met"].items() if ok]
    print(f"target ≥ {TARGET:g}×: met for {', '.join(met) if met else 'no mode'}")
    peaks = [report.megabytes(best(side[modes[2]]).peak_rss_mb) for side in (ours, theirs)]
    print(f"peak RSS MB in the second pass: ours {peaks[0]}, pymerkle {peaks[1]}")
    print(
        f"verified: {len(our_proofs):,} of our proofs and {len(their_proofs):,} of pymerkle's "
        f"against the roots; {'roots agree' if roots_agree else 'ROOTS DIFFER'}; "
        f"{'proof paths agree' if same_paths else 'PROOF PATHS DIFFER'}"
    )
    return figures

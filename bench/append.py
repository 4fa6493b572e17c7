"""``append``: one durable batch append of N entries, ours against pymerkle and the floor.

Ours is ``Log.append_batch``: leaf and tile hashes, the entries, the grown tiles and a
signed checkpoint, in one transaction. pymerkle's is ``SqliteTree.append_entries``:
leaf hashes and entries. The floor is what Python cannot go below: N bare
``hashlib.sha256`` calls over the entries, and N more over 65-byte node inputs, since a
Merkle tree needs about two hashes per entry.
"""

from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from bench import report
from bench.measure import Measurement, measure
from bench.run import Run, best, pragma_text, row, samples_json, say
from bench.workspace import pymerkle_pragmas

if TYPE_CHECKING:
    from cosignatory.tlog.log import Log

PYMERKLE_SAME = "pymerkle SqliteTree.append_entries"
PYMERKLE_SHIPPED = "pymerkle, as shipped (rollback journal)"
TARGET = 1.0  # ours / pymerkle entries per second: at least on par


def _append_ours(log: Log, entries: list[bytes]) -> Measurement:
    result, m = measure(
        "cosignatory Log.append_batch", len(entries), lambda: log.append_batch(entries)
    )
    if result.size != len(entries):
        raise RuntimeError(f"our log has {result.size} entries, not {len(entries)}")
    return m


def _append_pymerkle(tree: Any, entries: list[bytes], name: str) -> Measurement:
    size, m = measure(name, len(entries), lambda: tree.append_entries(entries))
    if size != len(entries):
        raise RuntimeError(f"pymerkle's tree has {size} leaves, not {len(entries)}")
    return m


def bench_append(run: Run) -> dict[str, Any]:
    """Time one durable batch append of all entries, ours against pymerkle's and the floor."""
    entries = run.entries
    n = len(entries)
    ws = run.workspace
    sha256 = hashlib.sha256
    node = b"\x01" + bytes(64)  # an interior node's input: the prefix and two hashes
    floor_leaves: list[Measurement] = []
    floor_nodes: list[Measurement] = []
    ours: list[Measurement] = []
    theirs: list[Measurement] = []
    theirs_shipped: list[Measurement] = []
    theirs_root: list[Measurement] = []
    roots_agree = True
    durability: dict[str, dict[str, str]] = {}

    for attempt in range(run.repeat):
        if attempt or run.filled:
            ws.reset()
        say(f"append, round {attempt + 1} of {run.repeat}")
        floor_leaves.append(
            measure("floor: N × sha256(entry)", n, lambda: [sha256(e).digest() for e in entries])[1]
        )
        floor_nodes.append(
            measure(
                "floor: N × sha256(65-byte node)",
                n,
                lambda: [sha256(node).digest() for _ in range(n)],
            )[1]
        )
        log = ws.log()
        tree = ws.pymerkle_tree()
        shipped = ws.pymerkle_tree(as_shipped=True)
        # Alternate the order, so that no side always meets a warmer machine.
        for side in ("ours", "pymerkle", "shipped")[:: 1 if attempt % 2 == 0 else -1]:
            if side == "ours":
                ours.append(_append_ours(log, entries))
            elif side == "pymerkle":
                theirs.append(_append_pymerkle(tree, entries, PYMERKLE_SAME))
            else:
                theirs_shipped.append(_append_pymerkle(shipped, entries, PYMERKLE_SHIPPED))
        # Not in the ratio: pymerkle's append computes no tree hash, ours ends with a
        # signed root. This is what pymerkle needs on top to get one.
        pm_root, m_root = measure("pymerkle get_root() after the append", 1, tree.get_root)
        theirs_root.append(m_root)
        our_root = log.root(n)
        roots_agree = roots_agree and our_root == pm_root and log.checkpoint().root == our_root
        durability = {
            "ours": ws.our_pragmas(),
            "pymerkle": pymerkle_pragmas(tree),
            "pymerkle_as_shipped": pymerkle_pragmas(shipped),
        }
        tree.close()
        shipped.close()
    run.filled = True

    m_ours, m_theirs = best(ours), best(theirs)
    floor_n = best(floor_leaves).seconds
    floor_2n = floor_n + best(floor_nodes).seconds
    speed = m_ours.rate / m_theirs.rate
    speed_shipped = m_ours.rate / best(theirs_shipped).rate
    # Each round ran both sides back to back, so its own ratio shows how steady it is.
    per_round = [round(t.seconds / o.seconds, 3) for o, t in zip(ours, theirs, strict=True)]
    files = {
        "ours": ws.our_file_mb(),
        "pymerkle": round(ws.pymerkle_file.stat().st_size / 2**20, 1),
    }
    figures = {
        "entries": n,
        "entry_bytes_mean": round(sum(map(len, entries)) / n, 1),
        "repeat": run.repeat,
        "durability": durability,
        "database_file_mb": files,
        "floor_n": samples_json(floor_leaves),
        "floor_nodes": samples_json(floor_nodes),
        "floor_2n_seconds": round(floor_2n, 4),
        "ours": samples_json(ours),
        "pymerkle": samples_json(theirs),
        "pymerkle_as_shipped": samples_json(theirs_shipped),
        "ratio_ours_over_pymerkle_as_shipped": round(speed_shipped, 3),
        "pymerkle_root": samples_json(theirs_root),
        "ratio_ours_over_pymerkle": round(speed, 3),
        "ratio_per_round": per_round,
        "floor_n_share_of_ours": round(floor_n / m_ours.seconds, 3),
        "floor_2n_share_of_ours": round(floor_2n / m_ours.seconds, 3),
        "roots_agree": roots_agree,
        "target": TARGET,
        "target_met": speed >= TARGET,
    }

    print(f"\n## append: {n:,} entries in one durable transaction (best of {run.repeat})\n")
    print(
        f"Entries: {figures['entry_bytes_mean']:.0f} bytes on average. Durability: ours "
        f"{pragma_text(durability['ours'])}; pymerkle {pragma_text(durability['pymerkle'])} "
        f"(as shipped: {pragma_text(durability['pymerkle_as_shipped'])}). The ratio is "
        "against pymerkle with our settings."
    )
    print()
    floor_row = [
        "floor: 2N sha256 (the two rows above)",
        report.count(2 * n),
        report.seconds(floor_2n),
        "",
        report.count(n / floor_2n) + " entries",
        "",
    ]
    headers = ["what", "calls or entries", "wall s", "CPU s", "per second", "peak RSS MB"]
    rows = [
        row(floor_leaves),
        row(floor_nodes),
        floor_row,
        row(theirs_shipped),
        row(theirs),
        row(ours),
    ]
    print(report.table(headers, rows))
    print()
    verdict = "met" if speed >= TARGET else "MISSED"
    print(
        f"ours / pymerkle: {report.ratio(speed)} entries per second (>1: ours is faster; "
        f"target ≥ {TARGET:g}×: {verdict}); against pymerkle as shipped: "
        f"{report.ratio(speed_shipped)}"
    )
    print(f"ours / pymerkle in each round: {', '.join(report.ratio(r) for r in per_round)}")
    print(
        f"floor as a share of our append time: N calls {figures['floor_n_share_of_ours']:.0%}, "
        f"2N calls {figures['floor_2n_share_of_ours']:.0%}"
    )
    print(
        f"pymerkle then needs {report.seconds(best(theirs_root).seconds)} s more for its root "
        "(ours includes it, signed). Database files: ours "
        f"{files['ours']:,.0f} MB (entries, tiles, checkpoints), pymerkle "
        f"{files['pymerkle']:,.0f} MB (entries, leaf hashes)"
    )
    print("roots agree" if roots_agree else "ROOTS DIFFER")
    return figures

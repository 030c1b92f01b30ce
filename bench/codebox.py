"""Code-node worker pool benchmark: what a run costs once the pool's workers are warm, and a cold start.

    .venv/bin/python bench/codebox.py            # 20 repeats of each figure
    .venv/bin/python bench/codebox.py --quick    # 5

(a) eachItem over 10,000 items ({"i": n} -> {"i": n + 1}) on a warm worker: median wall time of `pool.run`.
(b) allItems over 1 item on a warm worker: median wall time (the round trip of one small request).
(c) the first run of a new pool (starting a worker, or a sandbox and its worker): wall time.
(d) the JavaScript Code node: runOnceForEachItem over the same 10,000 items (`return {json: {i: $json.i + 1}}`)
    and allItems over 1 item, warm worker (QuickJS context forked from the worker's prepared one); and the
    worker's first JavaScript request (it loads QuickJS and evaluates the prelude then).
Prints one line per figure, with the sandbox mode the pool runs in.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time

from flowbox.engine.codebox import CodePool


async def figures(repeats: int) -> dict[str, float]:
    """Seconds per figure (medians for the warm runs)."""
    items = [{"i": n} for n in range(10_000)]
    pool = CodePool(size=1)
    try:
        start = time.perf_counter()
        await pool.run("return items", "allItems", [{"a": 1}])
        cold = time.perf_counter() - start
        start = time.perf_counter()
        await pool.run("return []", "allItems", [], language="javaScript")
        js_first = time.perf_counter() - start
        many, one, js_many, js_one = [], [], [], []
        for _ in range(repeats):
            start = time.perf_counter()
            out = await pool.run("return {'i': item['i'] + 1}", "eachItem", items)
            many.append(time.perf_counter() - start)
            assert len(out) == 10_000
            start = time.perf_counter()
            await pool.run("return [{'n': len(items)}]", "allItems", [{"a": 1}])
            one.append(time.perf_counter() - start)
            start = time.perf_counter()
            out = await pool.run("return {json: {i: $json.i + 1}}", "eachItem", items, language="javaScript")
            js_many.append(time.perf_counter() - start)
            assert len(out) == 10_000 and out[-1]["json"] == {"i": 10_000}
            start = time.perf_counter()
            await pool.run("return [{n: items.length}]", "allItems", [{"a": 1}], language="javaScript")
            js_one.append(time.perf_counter() - start)
    finally:
        pool.close_now()
    return {"10,000 items eachItem": statistics.median(many), "1 item allItems": statistics.median(one),
            "cold start (first run)": cold, "JS 10,000 items eachItem": statistics.median(js_many),
            "JS 1 item allItems": statistics.median(js_one), "JS first request of a worker": js_first}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    args = parser.parse_args()
    result = asyncio.run(figures(5 if args.quick else 20))
    sandbox = getattr(CodePool(size=1), "sandbox", None)  # (absent before the sandbox: a plain process)
    mode = sandbox.describe() if sandbox is not None else "process, no sandbox"
    for name, seconds in result.items():
        print(f"{name:26} {seconds * 1000:8.1f} ms   ({mode})")


if __name__ == "__main__":
    main()

"""One cold start in this fresh process: load a handler by path and run its first invocation; print one JSON line.

`python -m retrain_trigger_local.bench.cold_child HANDLER_PY EVENT_JSON [--count]`. Nothing but the standard library
and the runtime is imported before the clock starts, so the figure is the handler's own: its imports (boto3,
Powertools, and for ours the domain) and its first invocation (clients, first connections, the calls). With
--count the calls are counted instead (a botocore hook, installed before the handler loads) and the handler's answer
printed with them, untimed.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from retrain_trigger_local.runtime import LambdaContext, load_handler_file


def main(argv: list[str]) -> int:
    handler, event_path, *flags = argv
    event = json.loads(Path(event_path).read_text())
    context = LambdaContext("retrain-trigger-evaluator", "bench-cold-start")
    if "--count" in flags:
        from retrain_trigger_local.bench.counters import CallCounter  # noqa: PLC0415 - botocore, only when counting

        with CallCounter().installed() as counter:
            answer = load_handler_file(Path(handler), "app").lambda_handler(event, context)
        print(json.dumps({"calls": counter.take(), "answer": answer}))
        return 0
    cpu = time.process_time()
    started = time.perf_counter()
    app = load_handler_file(Path(handler), "app")  # Lambda's module name for a handler file called app.py
    imported = time.perf_counter()
    app.lambda_handler(event, context)
    invoked = time.perf_counter()
    timings = {"import_ms": (imported - started) * 1000, "invoke_ms": (invoked - imported) * 1000}
    # This process's CPU time (every thread): the handler's own work, without the moto server's nor the waits a
    # busy shared machine adds to the wall clock.
    print(json.dumps(timings | {"cpu_ms": (time.process_time() - cpu) * 1000}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))

#!/usr/bin/env python3
"""Pipeline benchmarks (docs/BENCHMARKS.md, "Data pipeline").

1. overhead: nernst requests through one `mfn pipeline` worker pinned to core 0 vs the
   same requests through the registry in process (examples/inprocess_rate), also pinned
   to core 0; the broker and this script run on core 1;
2. scaling: CPU-bound simulate requests through 1 worker, then 3 workers of one group
   (each with MFN_MAX_WORKERS=1), on the machine's 2 cores;
3. recovery: 3 workers under a steady load, kill -9 of one; the time until every
   partition has a result produced after the kill.

Rates come from the Kafka timestamps of the first and last result (set by the worker's
producer), so start-up and group joins are not counted. Runs interleave and repeat;
medians are reported.

    python scripts/bench/pipeline_bench.py MFN_BIN INPROCESS_BIN TANSU_BIN [REPS]
"""
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "interop"))
import pipeline_interop as pi  # noqa: E402

from kafka import KafkaConsumer, TopicPartition  # noqa: E402


def result_times(broker, topic, partitions, want, timeout):
    """{request id: result timestamp (s)} once `want` distinct ids arrived."""
    c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                      auto_offset_reset="earliest")
    c.assign([TopicPartition(topic, p) for p in range(partitions)])
    c.seek_to_beginning()
    seen = {}
    deadline = time.monotonic() + timeout
    while len(seen) < want and time.monotonic() < deadline:
        for recs in c.poll(timeout_ms=200, max_records=100_000).values():
            for r in recs:
                seen.setdefault(r.key.decode(), r.timestamp / 1000.0)
        # The rates come from the results' timestamps, not from when they are read:
        # reading in large batches keeps this reader's (and the broker's) share of the
        # two cores small, so the workers get them.
        time.sleep(0.5)
    c.close()
    if len(seen) < want:
        raise RuntimeError(f"only {len(seen)} of {want} results")
    return seen


def rate(times):
    ts = sorted(times.values())
    return (len(ts) - 1) / (ts[-1] - ts[0])


def run_pipeline(ctx, requests, workers, env, pin=None, concurrency=16):
    broker, mfn, workdir = ctx["broker"], ctx["mfn"], ctx["workdir"]
    tag = uuid.uuid4().hex[:6]
    req, res = f"bench-{tag}.req", f"bench-{tag}.res"
    broker.create_topics({req: 6, res: 3})
    prod = pi.producer(broker)
    pi.produce_all(prod, req, requests, 6)
    prod.close()
    procs = []
    for i in range(workers):
        w = pi.Worker(mfn, workdir, f"bench-{tag}-{i}",
                      pi.kafka_args(broker, req, res, f"g-{tag}", concurrency=concurrency), env,
                      prefix=() if pin is None else ("taskset", "-c", pin))
        procs.append(w)
    try:
        return result_times(broker, res, 3, len(requests), 600)
    finally:
        for w in procs:
            w.term()


def overhead(ctx, reps):
    n = 20000
    requests = [(f"n-{i}", pi.nernst_request(f"n-{i}", (1, 0.005 + i * 1e-7, 0.14, 310.0), False),
                 None) for i in range(n)]
    path = Path(ctx["workdir"]) / "nernst.jsonl"
    path.write_text("\n".join(json.dumps(r) for _, r, _ in requests) + "\n")
    inproc, piped = [], []
    for _ in range(reps):
        out = subprocess.run(["taskset", "-c", "0", ctx["inprocess"], str(path), "16", "1"],
                             capture_output=True, text=True, check=True)
        inproc.append(json.loads(out.stdout)["per_second"])
        piped.append(rate(run_pipeline(ctx, requests, 1, {"MFN_MAX_WORKERS": "1"}, pin="0")))
        print(f"  overhead rep: in-process {inproc[-1]:.0f}/s, pipeline {piped[-1]:.0f}/s", flush=True)
    a, b = statistics.median(inproc), statistics.median(piped)
    return {"in_process_per_s": a, "pipeline_per_s": b, "ratio": b / a,
            "runs_in_process": inproc, "runs_pipeline": piped}


def scaling(ctx, reps):
    n = 1500
    requests = [(f"s-{i}", pi.sim_request(f"s-{i}", (5000 + i, 96, 100), False), None) for i in range(n)]
    one, three = [], []
    env = {"MFN_MAX_WORKERS": "1"}
    for _ in range(reps):
        one.append(rate(run_pipeline(ctx, requests, 1, env, concurrency=4)))
        three.append(rate(run_pipeline(ctx, requests, 3, env, concurrency=4)))
        print(f"  scaling rep: 1 worker {one[-1]:.0f}/s, 3 workers {three[-1]:.0f}/s", flush=True)
    a, b = statistics.median(one), statistics.median(three)
    return {"one_worker_per_s": a, "three_workers_per_s": b, "speedup": b / a,
            "runs_one": one, "runs_three": three}


def recovery(ctx, reps):
    broker, mfn, workdir = ctx["broker"], ctx["mfn"], ctx["workdir"]
    out = []
    for _ in range(reps):
        tag = uuid.uuid4().hex[:6]
        req, res = f"rec-{tag}.req", f"rec-{tag}.res"
        broker.create_topics({req: 6, res: 3})
        workers = [pi.Worker(mfn, workdir, f"rec-{tag}-{i}",
                             pi.kafka_args(broker, req, res, f"g-{tag}", concurrency=8),
                             {"MFN_MAX_WORKERS": "1"}) for i in range(3)]
        stop = threading.Event()

        def feed():
            prod = pi.producer(broker)
            i = 0
            while not stop.is_set():
                for _ in range(20):  # ~200 requests/s over 6 partitions
                    p = i % 6
                    rid = f"rec-{p}-{i}"
                    prod.send(req, key=rid.encode(), partition=p,
                              value=json.dumps(pi.nernst_request(rid, (1, 0.005 + i * 1e-7, 0.14, 310.0),
                                                                 False)).encode())
                    i += 1
                prod.flush()
                time.sleep(0.1)
            prod.close()
        t = threading.Thread(target=feed)
        t.start()
        time.sleep(10)  # joined and flowing
        killed_at = time.time()
        workers[0].kill9()
        time.sleep(20)
        stop.set()
        t.join()
        c = KafkaConsumer(bootstrap_servers=broker.bootstrap, enable_auto_commit=False,
                          auto_offset_reset="earliest")
        c.assign([TopicPartition(res, p) for p in range(3)])
        c.seek_to_beginning()
        first_after = {}
        idle = 0
        while idle < 10:
            batch = c.poll(timeout_ms=300)
            idle = 0 if batch else idle + 1
            for recs in batch.values():
                for r in recs:
                    p = int(r.key.decode().split("-")[1])
                    ts = r.timestamp / 1000.0
                    if ts > killed_at and (p not in first_after or ts < first_after[p]):
                        first_after[p] = ts
        c.close()
        for w in workers[1:]:
            w.term()
        if len(first_after) < 6:
            raise RuntimeError(f"partitions never consumed again: {sorted(set(range(6)) - set(first_after))}")
        gap = max(first_after.values()) - killed_at
        out.append(gap)
        print(f"  recovery rep: every partition consumed again {gap:.1f} s after kill -9", flush=True)
    return {"recovery_s": statistics.median(out), "runs": out,
            "session_timeout_s": pi.SESSION_TIMEOUT_MS / 1000}


def main(argv):
    mfn, inprocess, tansu = (str(Path(a).resolve()) for a in argv[1:4])
    reps = int(argv[4]) if len(argv) > 4 else 3
    workdir = tempfile.mkdtemp(prefix="mfn-pipeline-bench-")
    broker = pi.Broker(tansu, workdir)
    broker.start()
    subprocess.run(["taskset", "-a", "-p", "-c", "1", str(broker.proc.pid)], check=True, capture_output=True)
    subprocess.run(["taskset", "-p", "-c", "1", str(__import__("os").getpid())], check=True, capture_output=True)
    ctx = {"mfn": mfn, "inprocess": inprocess, "broker": broker, "workdir": workdir}
    try:
        which = set(argv[5].split(",")) if len(argv) > 5 else {"overhead", "scaling", "recovery"}
        report = {}
        if "overhead" in which:
            report["overhead"] = overhead(ctx, reps)
        subprocess.run(["taskset", "-p", "-c", "0,1", str(__import__("os").getpid())], check=True,
                       capture_output=True)
        if "scaling" in which:
            report["scaling"] = scaling(ctx, reps)
        if "recovery" in which:
            report["recovery"] = recovery(ctx, reps)
        print(json.dumps(report, indent=2))
    finally:
        broker.kill()


if __name__ == "__main__":
    sys.exit(main(sys.argv))

"""The PromQL of deploy/: every alert and recording expression of the PrometheusRule,
every dashboard panel query, and the metric names they read.

    python promql_names.py check-list    # names used == names in metrics.txt
    python promql_names.py check-tests   # every alert has a firing promtool test

Imported by live_prometheus.py for the same lists.
"""

import json
import re
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
RULE = ROOT / "deploy/k8s/base/prometheusrule.yaml"
DASHBOARD = ROOT / "deploy/k8s/base/mfn-dashboard.json"
METRICS = ROOT / "deploy/monitoring/metrics.txt"
TESTS = ROOT / "deploy/monitoring/rules-test.yaml"

# Words that can precede `(`, `{` or `[` in PromQL without being a metric.
KEYWORDS = {
    "by", "without", "on", "ignoring", "group_left", "group_right", "and", "or", "unless", "bool", "offset",
    # aggregation operators, which may be followed by `by (...)` before their `(`
    "sum", "min", "max", "avg", "count", "group", "stddev", "stdvar", "topk", "bottomk", "quantile", "count_values",
}
# Grafana variables, as a dashboard query sees them.
GRAFANA_VARS = {"$__rate_interval": "1m", "$__interval": "15s", "$namespace": ".*"}


def rules() -> list[dict]:
    """Every rule of the PrometheusRule, with its group name."""
    spec = yaml.safe_load(RULE.read_text())["spec"]
    return [dict(r, group=g["name"]) for g in spec["groups"] for r in g["rules"]]


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, expr) of every dashboard target, Grafana variables filled in."""
    out = []
    for p in json.loads(DASHBOARD.read_text())["panels"]:
        for t in p.get("targets", []):
            expr = t["expr"]
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            out.append((p["title"], expr))
    return out


def metric_names(expr: str) -> set[str]:
    """Metric names read by `expr`: identifiers before a `{` or `[`, or bare ones that
    are not functions, keywords or recorded (colon) names."""
    # Drop label matchers and strings, which hold words that are not metrics.
    stripped = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    names = set()
    for m in re.finditer(r"(?<![\w:.])([a-zA-Z_][a-zA-Z0-9_:]*)\s*(\(|\{|\[)?", stripped):
        word, after = m.group(1), m.group(2)
        if after == "(" or word in KEYWORDS or ":" in word:
            continue
        # Label names: in {...} matchers and in by (...) / on (...) lists.
        if _inside_braces(stripped, m.start()):
            continue
        if _inside_label_list(stripped, m.start()):
            continue
        names.add(word)
    return names


def _inside_braces(s: str, i: int) -> bool:
    return s[:i].count("{") > s[:i].count("}")


def _inside_label_list(s: str, i: int) -> bool:
    """Whether position i is inside the parentheses of by/without/on/ignoring/group_*."""
    depth, j = 0, i - 1
    while j >= 0:
        c = s[j]
        if c == ")":
            depth += 1
        elif c == "(":
            if depth == 0:
                head = s[:j].rstrip()
                return bool(re.search(r"\b(by|without|on|ignoring|group_left|group_right)$", head))
            depth -= 1
        j -= 1
    return False


def listed() -> dict[str, str | None]:
    """metrics.txt: name -> the name exported today (issue-15 renames) or None."""
    out = {}
    for line in METRICS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        parts = line.split()
        today = next((p.split("=", 1)[1] for p in parts[1:] if p.startswith("today=")), None)
        out[parts[0]] = today
    return out


def used() -> dict[str, set[str]]:
    """name -> where it is used."""
    where: dict[str, set[str]] = {}
    for r in rules():
        for n in metric_names(r["expr"]):
            where.setdefault(n, set()).add(f"rule {r.get('alert') or r.get('record')}")
    for title, expr in panel_queries():
        for n in metric_names(expr):
            where.setdefault(n, set()).add(f"panel {title!r}")
    return where


def check_list() -> int:
    names, lst = used(), listed()
    missing = sorted(set(names) - set(lst))
    unused = sorted(set(lst) - set(names))
    for n in missing:
        print(f"not in metrics.txt: {n} (used by {', '.join(sorted(names[n]))})")
    for n in unused:
        print(f"in metrics.txt but used nowhere: {n}")
    print(f"{len(names)} metric names used by {len(rules())} rules and {len(panel_queries())} panel queries")
    return 1 if missing or unused else 0


def check_tests() -> int:
    alerts = {r["alert"] for r in rules() if "alert" in r}
    tested = set()
    for t in yaml.safe_load(TESTS.read_text())["tests"]:
        for a in t.get("alert_rule_test", []):
            if a.get("exp_alerts"):
                tested.add(a["alertname"])
    untested = sorted(alerts - tested)
    for a in untested:
        print(f"alert without a firing unit test: {a}")
    print(f"{len(alerts & tested)} of {len(alerts)} alerts have a firing unit test")
    return 1 if untested else 0


if __name__ == "__main__":
    cmd = sys.argv[1] if len(sys.argv) > 1 else ""
    sys.exit({"check-list": check_list, "check-tests": check_tests}.get(cmd, lambda: print(__doc__) or 2)())

"""Validate ServiceMonitor and PrometheusRule objects against the prometheus-operator
CRD schemas, strictly.

The schemas come as pydantic models generated from the CRDs' OpenAPI v3 schemas
(PyPI `cloudcoil.models.prometheus_operator`): types, enums and patterns (durations,
label names) as the API server checks them. The models accept unknown fields, as the
API server silently prunes them; we forbid them, as `kubernetes-validate --strict`
does for built-in kinds, so a misspelt field fails here instead of vanishing.

    python crd_validate.py rendered.yaml [more.yaml ...]
"""

import inspect
import sys

import pydantic
import yaml
from cloudcoil.models.prometheus_operator import v1

KINDS = {"ServiceMonitor": v1.ServiceMonitor, "PrometheusRule": v1.PrometheusRule}


def forbid_extra_fields() -> None:
    models = [
        c
        for _, c in inspect.getmembers(v1, inspect.isclass)
        if issubclass(c, pydantic.BaseModel) and c.__module__ == v1.__name__
    ]
    for model in models:
        model.model_config["extra"] = "forbid"
    # A model embeds the schemas of the models in its fields as they were when it was
    # built: rebuild until the innermost change has reached the outermost model
    # (nesting is a few levels deep).
    for _ in range(5):
        for model in models:
            model.model_rebuild(force=True)


def main(paths: list[str]) -> int:
    forbid_extra_fields()
    checked, failed = 0, 0
    for path in paths:
        with open(path) as f:
            for doc in yaml.safe_load_all(f):
                if not doc or doc.get("kind") not in KINDS:
                    continue
                checked += 1
                name = f"{path}: {doc['kind']}/{doc['metadata']['name']}"
                try:
                    KINDS[doc["kind"]].model_validate(doc)
                    print(f"ok   {name}")
                except pydantic.ValidationError as e:
                    failed += 1
                    print(f"FAIL {name}\n{e}")
    if checked == 0:
        print("no ServiceMonitor or PrometheusRule found")
        return 1
    print(f"{checked - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

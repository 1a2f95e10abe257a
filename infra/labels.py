"""Kubernetes labels and annotations: the recommended ``app.kubernetes.io/*`` set plus the colour and pool.

Selectors use only :func:`selector_labels`, which never change for a given workload: a Deployment's selector
is immutable, so anything that varies between releases (version, image) stays out of it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from infra.config import Color

PART_OF = "pipeline-platform"
COLOR_LABEL = "pipeline-platform.io/color"
POOL_LABEL = "pipeline-platform.io/pool"
SCHEMAS_ANNOTATION_PREFIX = "pipeline-platform.io/schemas-"
"""Annotation per colour (``...schemas-blue``) holding that release's schema versions as JSON: on the router Service
(every colour) and on the scheduler Deployments (the colour they run). The flip guard reads them."""
ACTIVE_COLOR_ANNOTATION = "pipeline-platform.io/active-color"


def schemas_annotation(color: Color, schemas: Mapping[str, int]) -> dict[str, str]:
    """``{pipeline-platform.io/schemas-<colour>: '{"subject":version,...}'}``, subjects sorted."""
    versions = json.dumps(dict(sorted(schemas.items())), separators=(",", ":"))
    return {f"{SCHEMAS_ANNOTATION_PREFIX}{color.value}": versions}


def selector_labels(app: str, component: str, color: Color | None = None, pool: str | None = None) -> dict[str, str]:
    """The fixed labels a Service, Deployment or PDB selects on."""
    labels = {"app.kubernetes.io/name": app, "app.kubernetes.io/component": component}
    if color is not None:
        labels[COLOR_LABEL] = color.value
    if pool is not None:
        labels[POOL_LABEL] = pool
    return labels


def standard_labels(
    app: str,
    component: str,
    instance: str,
    color: Color | None = None,
    pool: str | None = None,
    version: str | None = None,
) -> dict[str, str]:
    """Selector labels plus instance, part-of, managed-by and (when known) version."""
    labels = selector_labels(app, component, color, pool)
    labels.update(
        {
            "app.kubernetes.io/instance": instance,
            "app.kubernetes.io/part-of": PART_OF,
            "app.kubernetes.io/managed-by": "pulumi",
        }
    )
    if version is not None:
        labels["app.kubernetes.io/version"] = version
    return labels

"""Kubernetes labels and annotations: the recommended ``app.kubernetes.io/*`` set plus the colour and pool.

Selectors use only :func:`selector_labels`, which never change for a given workload: a Deployment's selector
is immutable, so anything that varies between releases (version, image) stays out of it.
"""

from __future__ import annotations

from infra.config import Color

PART_OF = "pipeline-platform"
COLOR_LABEL = "pipeline-platform.io/color"
POOL_LABEL = "pipeline-platform.io/pool"
SCHEMAS_ANNOTATION_PREFIX = "pipeline-platform.io/schemas-"
"""Router Service annotation per colour (``...schemas-blue``) holding that release's schema versions as JSON."""
ACTIVE_COLOR_ANNOTATION = "pipeline-platform.io/active-color"


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

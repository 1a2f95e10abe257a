# The Airflow image of a release: the official image at the release's Airflow version, the DAGs'
# requirements (resolved against Airflow's own constraints file, so they never move Airflow's
# dependencies), the versioning library with the schema registry, and dags/ baked in (with the platform's
# canary DAGs, platform_canary.py, which the smoke test runs before traffic moves to this image).
# pulumi-docker builds it when a colour's config has `build:` and passes both build args.
ARG AIRFLOW_VERSION=3.1.8
ARG PYTHON_VERSION=3.12
FROM apache/airflow:${AIRFLOW_VERSION}-python${PYTHON_VERSION}

ARG AIRFLOW_VERSION
ARG PYTHON_VERSION

# The base image runs as the unprivileged `airflow` user (uid 50000, gid 0); stay that user.
USER airflow

COPY --chown=airflow:0 dags/requirements.txt /tmp/dag-requirements.txt
# The platform's own needs: the FAB auth manager (login, admin user), Celery and the remote-log providers.
# The official image ships them; naming them here keeps them if a slimmer base is used, and the constraints
# file pins each to the version tested with this Airflow release.
RUN pip install --no-cache-dir \
      --constraint "https://raw.githubusercontent.com/apache/airflow/constraints-${AIRFLOW_VERSION}/constraints-${PYTHON_VERSION}.txt" \
      apache-airflow-providers-fab apache-airflow-providers-celery apache-airflow-providers-google \
      apache-airflow-providers-amazon \
      -r /tmp/dag-requirements.txt

# DAG tasks import the versioning library and read the registry (dags/versioning_upgrade.py).
COPY --chown=airflow:0 versioning/ /opt/airflow/lib/versioning/
COPY --chown=airflow:0 schemas/ /opt/airflow/schemas/
ENV PYTHONPATH=/opt/airflow/lib \
    VERSIONING_REGISTRY=/opt/airflow/schemas

COPY --chown=airflow:0 dags/ /opt/airflow/dags/

# Fail the build, not the deployment, when the auth manager the platform configures is missing...
RUN python -c "from airflow.providers.fab.auth_manager.fab_auth_manager import FabAuthManager; \
from airflow.providers.fab.auth_manager.cli_commands.utils import get_application_builder"
# ...or when a DAG does not import.
RUN python -c "from airflow.models import DagBag; bag = DagBag('/opt/airflow/dags', include_examples=False); \
assert not bag.import_errors, bag.import_errors"

#!/usr/bin/env bash
# Build (idempotently) the separate virtualenv .venv-airflow/ that the tests use to load the generated DAGs in a
# real Airflow DagBag and to run the versioning_upgrade DAG's tasks (with dags/requirements.txt installed).
#
# Why a separate virtualenv: Airflow's dependency pins clash with Pulumi's (protobuf, grpcio, ...), so Airflow
# cannot live in .venv. Airflow's own constraint files are served from outside the package registries this
# project may reach, so the key packages are pinned here instead.
#
# Usage: scripts/airflow-venv.sh            # from anywhere; builds <repo>/.venv-airflow if missing or stale
#        PYTHON=python3.11 scripts/airflow-venv.sh
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
venv="${AIRFLOW_VENV:-$repo/.venv-airflow}"
python="${PYTHON:-python3}"

# The pins: Airflow itself and the providers the generated DAGs import. Change them together; the stamp file
# below makes a changed pin list rebuild the virtualenv.
pins=(
  "apache-airflow==3.1.8"   # = the airflowVersion Pulumi.dev.yaml / Pulumi.prod.yaml deploy (a test keeps them equal)
  "apache-airflow-providers-cncf-kubernetes==10.25.0"
  "apache-airflow-providers-google==22.8.0"
)
stamp="$venv/.datapipe-pins"
wanted="$(printf '%s\n' "${pins[@]}")"
# What the DAGs' own tasks import (dags/requirements.txt, which the image installs too): installed on top, and
# again whenever that file changes, without rebuilding Airflow.
requirements="$repo/dags/requirements.txt"
requirements_stamp="$venv/.dags-requirements"

install_dag_requirements() {
  "$venv/bin/python" -m pip install --quiet -r "$requirements"
  cp "$requirements" "$requirements_stamp"
}

if [[ -x "$venv/bin/python" && -f "$stamp" && "$(cat "$stamp")" == "$wanted" ]]; then
  if cmp -s "$requirements" "$requirements_stamp"; then
    echo "airflow-venv: $venv is up to date"
  else
    install_dag_requirements
    echo "airflow-venv: installed dags/requirements.txt into $venv"
  fi
  exit 0
fi

start=$SECONDS
rm -rf "$venv"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --upgrade pip
"$venv/bin/python" -m pip install --quiet "${pins[@]}"
# Only a venv that finished installing gets the stamp, so an interrupted build is redone next time.
printf '%s\n' "${pins[@]}" >"$stamp"
install_dag_requirements
echo "airflow-venv: built $venv in $((SECONDS - start)) s"

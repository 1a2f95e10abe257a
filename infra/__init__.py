"""The pipeline-platform Pulumi program.

Airflow on Kubernetes, released blue/green: a Redis broker, one Airflow release per colour (API server,
scheduler, DAG processor, triggerer, Celery worker pools), and a router whose active Service moves to a
colour only when the schema-compatibility gate allows it. ``infra/__main__.py`` is the program Pulumi runs;
``python -m infra.render`` runs the same program offline under Pulumi's mock runtime.
"""

"""The program without a cluster, apart from the program itself: the mock runtime that runs it and records
every resource (:mod:`infra.offline.mock_runtime`) and the render that writes the objects as YAML
(:mod:`infra.offline.render`, run as ``python -m infra.render``). Nothing here is imported by the program."""

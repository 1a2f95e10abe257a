"""The Pulumi program: parse config, run the flip gate, declare the platform, export its outputs.

Nothing is declared until the config is valid and the gate has allowed the move from the live colour.
"""

from pathlib import Path

import pulumi

from infra.program import run

# Pulumi.yaml's `main: infra/` runs this file; the project root is its parent folder.
outputs = run(Path(__file__).resolve().parent.parent)
for key, value in outputs.items():
    pulumi.export(key, value)

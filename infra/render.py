"""``python -m infra.render``: the documented command for the offline render, the same as
``pipeline-platform render`` (:mod:`infra.cli`; the render itself lives in :mod:`infra.offline.render`)."""

import sys

from infra.cli import main

if __name__ == "__main__":
    sys.exit(main(["render", *sys.argv[1:]], prog_name="python -m infra.render"))

"""README.md shows what the commands print: every console block is a real run's output.

`tools/readme_tour.py --check` runs the tour on a fresh store and compares each marked
block with the README (ids, times, hashes and sizes aside); a block without a marker
could drift unseen, so every console block must carry one.
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent.parent


def test_every_console_block_is_a_tour_block() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = readme.count("```console")
    marked = len(re.findall(r"<!-- tour: [a-z-]+ -->\n```console", readme))
    assert blocks > 5 and marked == blocks


def test_the_readme_shows_what_a_fresh_run_prints() -> None:
    sys.path.insert(0, str(REPO / "tools"))
    try:
        import readme_tour
    finally:
        sys.path.remove(str(REPO / "tools"))
    readme = readme_tour.README.read_text()
    with tempfile.TemporaryDirectory(prefix="readme-tour-") as tmp:
        fresh = readme_tour.render(readme, readme_tour.run_tour(Path(tmp)))
    assert readme_tour.normalized(fresh) == readme_tour.normalized(readme), (
        "README.md's console blocks drifted: run .venv/bin/python tools/readme_tour.py"
    )

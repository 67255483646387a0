"""Write every console block of README.md from a real run of the commands it shows.

Usage: .venv/bin/python tools/readme_tour.py [--check]
  --check  exit 1 if a block differs from a fresh run (ids, times, hashes and sizes aside)

Each block the README marks with ``<!-- tour: NAME -->`` is the output of the steps named
NAME below, run in order on one fresh store in a temp directory, so its seqs, ids and
files are those of one story (the tour's own store, never the demo's). A step's command
is shown as ``$ command`` and followed by what it printed, stdout and stderr as a
terminal shows them; a hidden step (a file written, damage done) runs but is not shown.
Values a step prints can be named and used by later steps (``{plan}``). The ``demo``
block is an excerpt of `lakehouse demo`. `--check` is what CI runs
(tests/cli/test_readme.py): a README that drifts from what the commands print fails it.
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
README = REPO / "README.md"
BIN = Path(sys.executable).parent
MARK = re.compile(r"<!-- tour: (?P<name>[a-z-]+) -->\n```(?P<lang>\w+)\n(?P<body>.*?)```\n", re.S)


@dataclass
class Step:
    """One command of the tour: run, shown with its output, and what to remember from it."""

    command: str
    capture: dict[str, str] = field(default_factory=dict)  # name -> regex with one group
    hidden: bool = False
    note: str = ""  # shown after the command as a shell comment


STAFF = (
    "id,name,role,city,hourly_rate\\n1,Ada Lovelace,data engineer,Lisbon,92.50\\n"
    '2,Grace Hopper,sre,"Austin, TX",88.00\\n3,Radia Perlman,analyst,Porto,71.25\\n'
)
SESSION = (
    '{"id": "ses-0001", "model": "coordinator-small", "outcome": "success",\n'
    ' "grounded_in_roster": true, "timings": {"total_s": 4.2},\n'
    ' "attempts": [{"prompt": "staff Lisbon: 2 engineers", "raw": "Ada Lovelace, Radia '
    'Perlman", "verdict": "accepted"}]}\n'
)
FLIP = (
    "python3 -c \"import pathlib; p = sorted(pathlib.Path('damaged/journal/segments')"
    ".glob('*.jsonl'))[0]; b = bytearray(p.read_bytes()); i = b.index(b'plan the ingest'); "
    'b[i] ^= 1; p.write_bytes(b)"'
)
FILL = "--target-count 2 --kind fill --fingerprint {fingerprint}"

TOUR: dict[str, list[Step]] = {
    "init": [Step("lakehouse init")],
    "datasets": [
        Step(f"printf '{STAFF}' > staff.csv"),
        Step("lakehouse dataset ingest staff staff.csv"),
        Step("lakehouse dataset ingest staff staff.csv"),
        Step(
            "printf 'id,name,role,city,hourly_rate\\n4,Ken Thompson,sre,Berkeley,90.00\\n'"
            " > more_staff.csv"
        ),
        Step("lakehouse dataset ingest staff more_staff.csv"),
        Step("lakehouse dataset ingest staff more_staff.csv --mode append"),
        Step("printf 'id,name,team\\n1,Ada Lovelace,platform\\n' > teams.csv", hidden=True),
        Step("lakehouse dataset ingest staff teams.csv", note="columns id, name, team"),
        Step("lakehouse dataset show staff", {"fingerprint": r"fingerprint +([0-9a-f]{12})"}),
    ],
    "csv": [
        Step(
            "printf 'zip\\tcode\\tjoined\\tactive\\n00123\\tNA\\t2012/01/01\\tYes\\n"
            "07001\\t\\t2013/06/30\\tNo\\n' | gzip > zips.tsv.gz"
        ),
        Step("lakehouse dataset ingest zips zips.tsv.gz"),
        Step('lakehouse sql "SELECT * FROM zips"'),
        Step(
            "zcat zips.tsv.gz | lakehouse dataset ingest zips - --mode replace"
            " --null-value NA --null-value '' --column zip=VARCHAR"
        ),
        Step('lakehouse sql "SELECT * FROM zips"'),
    ],
    "traces": [
        Step("lakehouse trace add --text 'plan the ingest' --tag etl", {"plan": r"(trc_\w+)"}),
        Step(
            "lakehouse trace update {plan} --text 'plan the ingest, then check the row count'"
            " --if-rev 1"
        ),
        Step("lakehouse trace update {plan} --text 'plan it differently' --if-rev 1"),
        Step(
            "lakehouse trace revise {plan} --text 'plan the ingest; validate before loading'",
            {"revised": r"(trc_\w+)"},
        ),
        Step("lakehouse trace history {revised}"),
        Step(
            "lakehouse trace add --text 'try last week roster' --tag scratch",
            {"scratch": r"(trc_\w+)"},
        ),
        Step("lakehouse trace retire {scratch} --reason 'an experiment'"),
        Step("lakehouse trace list --include-retired"),
    ],
    "sessions": [
        Step(f"cat > session.json <<'EOF'\n{SESSION}EOF", hidden=True),
        Step("cat session.json"),
        Step("lakehouse session record session.json"),
        Step("lakehouse session list"),
        Step(
            "lakehouse playbook record --query 'staff Lisbon: 2 engineers' "
            f"--endorsed 'Ada Lovelace,Radia Perlman' {FILL}"
        ),
        Step(
            "lakehouse playbook record --query 'staff Lisbon: 2 engineers' "
            f"--endorsed a,b,c,d,e {FILL}"
        ),
    ],
    "session-input": [
        Step("lakehouse session record /dev/urandom"),
        Step('printf \'{"id": "s-\\377"}\' | lakehouse session record -'),
    ],
    "journal": [
        Step("lakehouse checkpoint create"),
        Step("lakehouse checkpoint list"),
        Step("lakehouse checkpoint verify"),
        Step("lakehouse journal tail --after 8"),
        Step("lakehouse journal verify"),
    ],
    "damage": [
        Step("cp -r lakehouse-store damaged", hidden=True),
        Step(FLIP, hidden=True),
        Step("lakehouse --store damaged journal verify"),
    ],
    "read-models": [
        Step(
            'lakehouse sql "SELECT city, hourly_rate FROM staff ORDER BY hourly_rate DESC"'
            " --format csv"
        ),
        Step("lakehouse trace add --text 'staff the night shift: two nurses in Lyon' --tag roster"),
        Step('lakehouse trace search "night shift in Lyon" -k 2'),
        Step('lakehouse sql "SELECT count(*) AS traces FROM traces" --as-of-seq 5 --json'),
        Step("lakehouse sql \"SELECT * FROM read_csv('/etc/passwd')\""),
    ],
    "rows": [
        Step("lakehouse tables"),
        Step("lakehouse dataset head staff -n 2"),
        Step("lakehouse dataset export staff --to staff-copy.parquet"),
        Step("lakehouse dataset export staff --to staff-copy.parquet"),
        Step('echo "SELECT name FROM staff ORDER BY id LIMIT 1" | lakehouse sql - --format csv'),
    ],
    "sql-types": [
        Step(
            'lakehouse sql "SELECT sum(id) AS total, sum(hourly_rate::DECIMAL(10,2)) AS paid,'
            " 1::HUGEINT << 70 AS big, 'nan'::DOUBLE AS x, 1 AS a, 2 AS a FROM staff\" --json"
        ),
        Step('lakehouse sql "SELECT 1 AS a, 2 AS a" --format nl'),
    ],
    "doctor": [Step("lakehouse doctor")],
    "serve": [Step("lakehouse serve --get /health")],
}

# the demo excerpt: from its sections 2, 5 and 6, the first line matching each pattern
DEMO_LINES = {
    "2": (
        r"== 2\. ",
        r"\$ lakehouse dataset ingest staffing \S+$",
        r"dataset staffing rev 1 at seq 2: ",
    ),
    "5": (r"== 5\. ", r"the child was told 'ok'", r"and a torn half-record"),
    "6": (
        r"== 6\. ",
        r"\$ lakehouse trace list --tag crash-test",
        r"\d+ traces tagged crash-test",
        r"\$ lakehouse trace add --text 'added after the crash'",
        r"trace trc_\w+ rev 1 at seq",
        r"before it, the writer adjudicated",
        r"  seq \d+ journal\.fragment_adjudicated",
        r"\$ lakehouse journal verify",
        r"healthy: ",
    ),
}

# what differs between two honest runs: ids, times, hashes, sizes, durations
VOLATILE = [
    (re.compile(r"trc_[0-9a-f]{24}"), "trc_ID"),
    (re.compile(r"pb_[0-9a-f]{32}"), "pb_ID"),
    (re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"), "UUID"),
    (re.compile(r"\b[0-9a-f]{12,64}\b"), "HASH"),
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z"), "TIME"),
    (re.compile(r"\b\d+-[0-9a-f]{8}\b"), "WRITER"),
    (re.compile(r"[\d,]+ bytes"), "N bytes"),
    (re.compile(r"bytes \d+\.\.\d+|offset \d+"), "AT"),  # a writer id's length moves them
    (re.compile(r"\d+\.\d+ s\b|\d+ MB/s|\d+(\.\d+)? MB\b"), "T"),
    (re.compile(r"/tmp/\S*"), "/tmp/PATH"),
    (re.compile(r" +$", re.M), ""),
]


def run_tour(workdir: Path) -> dict[str, str]:
    """Every block's text from a fresh run in `workdir`."""
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    env.pop("LAKEHOUSE_STORE", None)
    env["COLUMNS"] = "200"
    names: dict[str, str] = {}
    blocks = {"demo": _demo(workdir, env)}
    for block, steps in TOUR.items():
        shown: list[str] = []
        for step in steps:
            command = re.sub(r"\{(\w+)\}", lambda m: names[m.group(1)], step.command)
            output = _run(command, workdir, env)
            for name, pattern in step.capture.items():
                found = re.search(pattern, output)
                if found is None:
                    raise SystemExit(f"tour {block}: {pattern!r} not in the output of {command}")
                names[name] = found.group(1)
            if not step.hidden:
                note = f"    # {step.note}" if step.note else ""
                shown.append(f"$ {command}{note}\n{output}")
        blocks[block] = "".join(shown)
    return blocks


def _run(command: str, workdir: Path, env: dict[str, str]) -> str:
    """What `command` prints in `workdir`: a `lakehouse` command runs in this process
    (the same CLI, a fraction of the start-up), anything else in /bin/sh."""
    if command.startswith("lakehouse ") and not re.search(r"[|<>&;]", command):
        return _in_process(shlex.split(command)[1:], workdir, env)
    done = subprocess.run(
        ["/bin/sh", "-c", f"exec 2>&1\n{command}"],
        cwd=workdir,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return done.stdout


def _demo(workdir: Path, env: dict[str, str]) -> str:
    out = _run("lakehouse demo", workdir, env)  # on ./lakehouse-demo, as a user runs it
    kept: list[str] = []
    section, wanted, previous = "", (), -2
    for number, line in enumerate(out.splitlines()):
        if line.startswith("== "):
            section = line[3:].split(".")[0]
            wanted = DEMO_LINES.get(section, ())
            if wanted and kept:
                kept.append("")
        for pattern in wanted:
            if re.match(pattern, line):
                if kept and kept[-1] and number != previous + 1:
                    kept.append("...")
                kept.append(line)
                wanted, previous = tuple(p for p in wanted if p != pattern), number
                break
    return "\n".join(kept) + "\n"


def _in_process(args: list[str], workdir: Path, env: dict[str, str]) -> str:
    from click.testing import CliRunner

    from lakehouse.cli import cli

    before = Path.cwd()
    os.chdir(workdir)
    try:
        result = CliRunner().invoke(cli, args, prog_name="lakehouse", env=env, terminal_width=200)
    finally:
        os.chdir(before)
    if result.exception is not None and not isinstance(result.exception, SystemExit):
        raise SystemExit(f"tour: lakehouse {shlex.join(args)} raised {result.exception!r}")
    return result.output


def render(readme: str, blocks: dict[str, str]) -> str:
    """README text with each marked block replaced by its fresh text."""

    def replace(match: re.Match[str]) -> str:
        name = match.group("name")
        if name not in blocks:
            raise SystemExit(f"README.md marks a block {name!r} that the tour does not run")
        return f"<!-- tour: {name} -->\n```{match.group('lang')}\n{blocks[name]}```\n"

    return MARK.sub(replace, readme)


def normalized(text: str) -> str:
    """`text` with what differs between honest runs replaced by placeholders.

    In the demo excerpt every number is one: how many traces the killed writer got
    through before the kill, and so every seq after it, differs from run to run.
    """
    for pattern, placeholder in VOLATILE:
        text = pattern.sub(placeholder, text)

    def demo(match: re.Match[str]) -> str:
        lines = [line for line in match.group(0).splitlines() if line != "..."]
        return re.sub(r"\d+", "N", "\n".join(lines))

    return re.sub(r"<!-- tour: demo -->\n```text\n.*?```", demo, text, flags=re.S)


def main() -> int:
    """Rewrite README.md, or with --check compare it with a fresh run."""
    current = README.read_text()
    with tempfile.TemporaryDirectory(prefix="readme-tour-") as tmp:
        fresh = render(current, run_tour(Path(tmp)))
    if "--check" not in sys.argv[1:]:
        README.write_text(fresh)
        return 0
    if normalized(fresh) == normalized(current):
        return 0
    import difflib

    diff = difflib.unified_diff(
        normalized(current).splitlines(), normalized(fresh).splitlines(), lineterm="", n=1
    )
    print("README.md's console blocks differ from a fresh run of the tour:", file=sys.stderr)
    print("\n".join(list(diff)[:60]), file=sys.stderr)
    print("run: .venv/bin/python tools/readme_tour.py", file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())

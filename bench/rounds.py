"""Rounds of the same run: which one a report shows, and how far the rounds spread.

The maximum-rate runs of bench/run-auth and bench/run-traefik are repeated (--max-rounds),
because on a small machine the rate of the same server moves between runs by more than the
difference being measured. A report shows each group's median run (the lower of the two middle
ones for an even count) and the range of all its rounds; runs.jsonl keeps every round.

    python3 bench/rounds.py median RUNS_JSONL AGENTS MODE FIELD NAME

prints the median req/s of the runs whose `agents`, `mode` and FIELD (`server` or `route`) match.
"""

import json
import sys


def load(path):
    """Every run in a runs.jsonl file, in the order they ran."""
    with open(path) as lines:
        return [json.loads(line) for line in lines if line.strip()]


def medians(runs, name_field):
    """The median run of each (agents, mode, name_field) group, in the order the groups first
    ran, and a function giving a shown run's "min–max (n)" req/s over its rounds ("–" if one)."""
    groups = {}
    for run in runs:
        groups.setdefault((run["agents"], run["mode"], run[name_field]), []).append(run)
    shown, ranges = [], {}
    for key, group in groups.items():
        ordered = sorted(group, key=lambda run: run["rps"])
        shown.append(ordered[(len(ordered) - 1) // 2])
        ranges[key] = (ordered[0]["rps"], ordered[-1]["rps"], len(ordered))

    def spread(run):
        low, high, count = ranges[(run["agents"], run["mode"], run[name_field])]
        return f"{low:.0f}–{high:.0f} ({count})" if count > 1 else "–"

    return shown, spread


def main(argv):
    if len(argv) != 7 or argv[1] != "median":
        sys.exit("usage: rounds.py median RUNS_JSONL AGENTS MODE FIELD NAME")
    path, agents, mode, field, name = argv[2:]
    runs = [run for run in load(path)
            if run["agents"] == int(agents) and run["mode"] == mode and run[field] == name]
    if not runs:
        sys.exit(f"rounds.py: no {mode} run of {name} at {agents} agents in {path}")
    shown, _ = medians(runs, field)
    print(int(shown[0]["rps"]))


if __name__ == "__main__":
    main(sys.argv)

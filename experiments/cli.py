"""The `handover` command: `handover <command> [hydra overrides]`.

Each command lives in its own module exposing `main(overrides: list[str]) -> int`.
Invalid input exits with status 2 before anything is written.
"""

from __future__ import annotations

import importlib
import sys

from experiments.config import ConfigError
from sim.params import ParameterError

#: command name -> (module, one-line help)
COMMANDS = {
    "run": ("experiments.run", "one scenario, one seed: summary table, outcomes, figure"),
    "compare": ("experiments.compare.driver", "scenario library x replications with paired CIs"),
    "sweep": ("experiments.sweep.driver", "grid of parameter settings x scenarios x replications"),
    "sensitivity": ("experiments.sensitivity.driver", "Morris / Sobol global sensitivity (SALib)"),
    "stress": ("experiments.stress.driver", "robustness of exit strategies across futures"),
    "calibrate": ("experiments.calibrate.driver", "fit declared factors to the targets (ABC-SMC)"),
    "validate": ("experiments.calibrate.validate", "the model against the profile's targets (source)"),
    "app": ("experiments.app.driver", "scenario explorer in the browser (host=, port=)"),
}


def usage() -> str:
    """Text shown for `handover --help`."""
    lines = ["usage: handover <command> [key=value ...]   (Hydra overrides)", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "e.g. handover run scenario=abrupt_exit seed=7 country=tunisia_like"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help", "help"):
        print(usage())
        return 0
    name, overrides = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command '{name}'; allowed: {', '.join(COMMANDS)}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    try:
        return int(module.main(overrides) or 0)
    except (ConfigError, ParameterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())

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
#: command name -> its top-level file in configs/ (what `--cfg job` composes)
CONFIG_NAMES = {name: name for name in COMMANDS}
#: Config groups shown by `--help` (folders of configs/ a command can choose from).
GROUPS = ("country", "scenario", "executor", "stress")
MULTIRUN = ("Hydra's multirun (-m) is replaced by `handover sweep`, e.g. handover sweep "
            "'grid={model.scale:[2,5],model.timely_months:[2,3]}' replications=1; "
            "see docs/guarantees.md")


def usage() -> str:
    """Text shown for `handover --help`."""
    lines = ["usage: handover <command> [key=value ...]   (Hydra overrides)", "", "commands:"]
    lines += [f"  {name:<12} {text}" for name, (_, text) in COMMANDS.items()]
    lines += ["", "e.g. handover run scenario=abrupt_exit seed=7 country=tunisia_like",
              "     handover <command> --help      settings, groups and main keys",
              "     handover <command> --cfg job   print the composed configuration"]
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
    try:
        flags, overrides = split_flags(overrides)
        if "help" in flags:
            print(command_help(name))
            return 0
        if "cfg" in flags:
            print(composed_yaml(name, overrides), end="")
            return 0
        module = importlib.import_module(COMMANDS[name][0])
        return int(module.main(overrides) or 0)
    except (ConfigError, ParameterError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2


def split_flags(args: list[str]) -> tuple[set[str], list[str]]:
    """Separate Hydra-style flags (`--help`, `--cfg job`, `-m`) from the overrides.

    Returns:
        ({"help"} and/or {"cfg"}, the remaining overrides).

    Raises:
        ConfigError: `-m`/`--multirun` (use `handover sweep`), `--cfg` other than `job`,
            or an unknown option.
    """
    flags: set[str] = set()
    rest: list[str] = []
    items = iter(args)
    for arg in items:
        if arg in ("-h", "--help", "--info", "--hydra-help"):
            flags.add("help")
        elif arg in ("--cfg", "-c") or arg.startswith("--cfg="):
            what = arg.partition("=")[2] if "=" in arg else next(items, "")
            if what not in ("job", "all"):
                raise ConfigError(f"--cfg: unknown '{what}'; allowed: job (the composed "
                                  "configuration a command would run)")
            flags.add("cfg")
        elif arg in ("-m", "--multirun"):
            raise ConfigError(f"--multirun: {MULTIRUN}")
        elif arg.startswith("-"):
            raise ConfigError(f"{arg}: unknown option; allowed: --help, --cfg job "
                              "(settings are key=value overrides)")
        else:
            rest.append(arg)
    return flags, rest


def composed_yaml(name: str, overrides: list[str]) -> str:
    """The configuration `handover <name> [overrides]` would run, as YAML (nothing runs)."""
    from omegaconf import OmegaConf

    from experiments.config import compose

    return OmegaConf.to_yaml(compose(CONFIG_NAMES[name], overrides))


def command_help(name: str) -> str:
    """`handover <name> --help`: usage, config groups and their options, main keys."""
    from experiments.config import CONFIG_DIR, compose, group_options

    module = importlib.import_module(COMMANDS[name][0])
    doc = (module.__doc__ or "").strip()
    cfg = compose(CONFIG_NAMES[name], [])
    lines = [f"usage: handover {name} [key=value ...] [--cfg job] [--help]", "",
             COMMANDS[name][1], "", doc, "", "config groups (group=option):"]
    for group in GROUPS:
        if group in cfg and (CONFIG_DIR / group).is_dir():
            files = " | path/to/file.yaml" if group in ("country", "scenario") else ""
            lines.append(f"  {group:<10} {' | '.join(group_options(group))}{files}")
    lines += ["", "main keys (current values; see configs/ and docs/):"]
    for key, value in cfg.items():
        if key in GROUPS and key not in ("scenario",):
            continue
        if key == "model":
            lines += [f"  model.{k} = {v}" for k, v in value.items()]
        elif not isinstance(value, (dict, list)) or key in ("scenarios", "outcomes"):
            lines.append(f"  {key} = {value}")
        elif key not in ("country", "scenario"):
            lines.append(f"  {key}.* (a mapping; see --cfg job)")
    lines += ["", "  country.*, scenario.*: every key of the chosen files; print them with "
              "--cfg job", "", MULTIRUN]
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

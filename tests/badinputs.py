"""A catalogue of bad command-line inputs for every command, and how to try one.

`cases(command)` lists distinct bad override lists (each must be refused with exit 2, an
error naming the field, no traceback and no file written). The fuzz test samples them with
hypothesis; `python tests/badinputs.py [command ...]` tries them all (or those of the given
commands) and prints tried / clean per command.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import tempfile
from pathlib import Path

COMMANDS = ("run", "compare", "sweep", "sensitivity", "stress", "validate", "calibrate")
#: Commands that take one `scenario=` (the others take `scenarios=[...]`).
SINGLE_SCENARIO = ("run", "validate", "calibrate")

#: Small, valid base settings per command, so validation (not a run) is what each case
#: costs, and a case wrongly accepted costs a short coarse run, not a long one.
SMALL = ["model.scale=100", "model.horizon_months=30", "model.handover_start=12"]
BASE = {
    "run": [*SMALL],
    "compare": ["scenarios=[status_quo,abrupt_exit]", "replications=2", *SMALL],
    "sweep": ["replications=1", *SMALL],
    "sensitivity": ["n=4", "space=tiny", "method=morris", *SMALL],
    "stress": ["scenarios=[status_quo,abrupt_exit]", "futures=4", "replications=1",
               "stress=small", *SMALL],
    "validate": ["replications=2", *SMALL],
    "calibrate": ["particles=2", "generations=1", "oversample=1", "install=false", *SMALL],
}

#: Numeric fields of the run configuration (every command reads them).
RUN_NUMBERS = (
    "model.horizon_months", "model.handover_start", "model.scale", "model.timely_months",
    "model.gap_delta", "model.monitoring_months", "model.warmup_months",
    "country.arrivals.monthly_mean", "country.returnees.help_seeking",
    "country.returnees.trust_concentration", "country.funders.0.cycle_months",
    "scenario.national_takeover",
)
#: Values no number field accepts (not finite, absurd, or not a number).
BAD_NUMBERS = ("inf", "-inf", "nan", "1e308", "-1e308", "abc", "[1,2]", "{a:1}")
#: Bad values of command settings: key -> values.
SETTINGS = {
    "run": {"seed": ("-1", "1.5", "abc", "inf")},
    "compare": {"replications": ("1", "0", "-3", "abc", "inf", "2.5"),
                "level": ("0", "1", "1.5", "nan", "abc"), "reference": ("nope",),
                "gap_threshold_months": ("0", "-1", "nan", "inf", "abc"),
                "scenarios": ("[]", "[nope]", "[status_quo,status_quo]", "[../x]")},
    "sweep": {"replications": ("0", "-1", "abc", "inf"), "level": ("0", "2", "nan"),
              "grid": ("{}", "{model.scale:[]}", "{model.nope:[1,2]}", "{model.scale:[inf]}",
                       "{model.scale:[abc]}", "{model.horizon_months:[1000000000]}"),
              "settings": ("[]", "[{}]", "[{model.scale:nan}]", "[{model.nope:1}]"),
              "outcomes": ("[nope]", "[]")},
    "sensitivity": {"n": ("1", "0", "abc", "inf"), "replications": ("0", "abc"),
                    "method": ("nope",), "conf_level": ("0", "1", "nan"),
                    "num_levels": ("1", "abc"), "num_resamples": ("1", "abc"),
                    "factors": ("[]", "[nope]"), "outcomes": ("[nope]", "[]"),
                    "space": ("nope",)},
    "stress": {"futures": ("0", "-1", "abc", "inf"), "replications": ("0", "abc"),
               "gap_threshold_months": ("0", "nan", "inf"), "criterion": ("nope",),
               "discovery.peel_alpha": ("2", "0", "-1", "nan"),
               "discovery.max_boxes": ("0", "-1", "1.5"),
               "discovery.mass_min": ("-1", "2", "nan"),
               "discovery.paste_alpha": ("-1", "inf"), "discovery.min_coverage": ("0", "2"),
               "discovery.max_qp": ("0", "5"), "discovery.scenario": ("nope",),
               "thresholds.gap_metric": ("nope",), "timeseries_replications": ("-1",),
               "sample_seed": ("-1", "abc")},
    "validate": {"seed": ("-1", "abc"), "replications": ("1", "0", "abc", "inf", "2.5"),
                 "strict": ("maybe", "2"), "level": ("0", "1", "nan", "abc"),
                 "posterior": ("/no/such/folder", "[a,b]", "afile"),
                 "target_file": ("nowhere", "[a]", "/no/such/targets.yaml")},
    "calibrate": {"seed": ("-1", "abc"), "particles": ("1", "0", "abc", "inf"),
                  "generations": ("0", "-1", "abc"), "oversample": ("0", "abc"),
                  "replications": ("0", "abc"), "level": ("0", "1.5", "nan"),
                  "name": ("bad/name", "[a]", "a b"), "install": ("maybe",),
                  "space": ("nowhere", "[a]", "afile"), "target_file": ("nowhere", "[a]")},
}
#: Bad inputs every command refuses alike: (override, field the message must name).
COMMON = (
    ("output_dir={a:1}", "output_dir"), ("output_dir=[a,b]", "output_dir"),
    ("output_dir=/dev/null", "output_dir"), (f"output_dir={'x' * 300}", "output_dir"),
    ("output_dir=afile", "output_dir"), ("output_dir=afile/below", "output_dir"),
    ("+model.scal=4", "model.scal"), ("model.scal=4", "model.scal"),
    ("+anything=1", "anything"), ("nope=1", "nope"), ("country.nope=1", "country.nope"),
    ("seed=${seed}", "interpolation"), ("seed=${nope}", "interpolation"),
    ("output_dir=${oc.env:HOME}", "output_dir"), ("country=../../x", "country"),
    ("country=nope", "country"), ("country=/no/such/file.yaml", "country"),
    ("executor=nope", "executor"), ("executor.workers=0", "executor.workers"),
    ("executor=dask executor.address=not-a-url", "executor.address"),
    ("executor.chunk_size=0", "executor.chunk_size"), ("hydra.run.dir=x", "hydra.run.dir"),
    ("model.horizon_months=1000000000", "model.horizon_months"),
    ("model.timely_months=100", "model.timely_months"),
    ("scenario.shocks=[{kind:return_surge,persons:1e308,start:30}]", "scenario.shocks"),
    ("model.scale=1 country.arrivals.monthly_mean=100000000", "model"),
)


def cases(command: str) -> list[tuple[list[str], str]]:
    """Distinct bad inputs of `command`: (overrides, the field the error must name)."""
    out = []
    for key in RUN_NUMBERS:
        out += [([f"{key}={v}"], key) for v in BAD_NUMBERS]
    for key, values in SETTINGS[command].items():
        out += [([f"{key}={v}"], key) for v in values]
    for item, field in COMMON:
        if command == "run" and item.startswith("executor"):
            continue
        out.append((item.split(" "), field))
    if command in SINGLE_SCENARIO:
        out += [(["scenario=../../x"], "scenario"), (["scenario=nope"], "scenario")]
    else:
        out += [(["scenario=abrupt_exit"], "scenario")] if command != "sensitivity" else []
    return out


def try_case(command: str, overrides: list[str], field: str) -> tuple[bool, str]:
    """Run `handover <command>` in-process in an empty folder; return (clean?, why not).

    Clean: exit status 2, stderr starts with "error: " and names `field` (a list item may
    be named by its `name`, e.g. country.funders.eu_return_programme), no traceback,
    and the folder holds nothing but the file the case refers to.
    """
    from experiments import cli

    with tempfile.TemporaryDirectory() as tmp:
        old = os.getcwd()
        os.chdir(tmp)
        Path("afile").write_text("x")
        out, err = io.StringIO(), io.StringIO()
        try:
            with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                code = cli.main([command, *BASE[command], *overrides])
        except BaseException as exc:  # noqa: BLE001 - a traceback is the failure counted
            return False, f"raised {type(exc).__name__}: {exc}"
        finally:
            os.chdir(old)
            left = sorted(str(p.relative_to(tmp)) for p in Path(tmp).rglob("*"))
        text = err.getvalue()
        if code != 2:
            return False, f"exit {code}"
        if "Traceback" in text or not text.startswith("error: "):
            return False, f"message {text[:200]!r}"
        leaf = field.rsplit(".", 1)[-1]  # list items may be named by their `name`
        # a grid/settings value may be refused by the key inside it (e.g. model.nope)
        inner = re.findall(r"[a-z_]+\.[a-z_][a-z_.0-9]*", " ".join(overrides).split("=", 1)[-1])
        if (field not in text and not (leaf in text and field.split(".")[0] in text)
                and not any(key in text for key in inner)):
            return False, f"field {field!r} not named in {text.strip()[:200]!r}"
        if left != ["afile"]:
            return False, f"files left: {left[:5]}"
        return True, ""


def main(commands: list[str]) -> int:
    """Try every case of `commands` (default: all); print tried / clean and the failures."""
    total_bad, tried = 0, 0
    for command in commands or COMMANDS:
        items = cases(command)
        bad = []
        for overrides, field in items:
            ok, why = try_case(command, overrides, field)
            if not ok:
                bad.append((overrides, why))
        total_bad += len(bad)
        tried += len(items)
        print(f"{command:<12} tried {len(items):4d}  clean {len(items) - len(bad):4d}", flush=True)
        for overrides, why in bad:
            print(f"    {' '.join(overrides)}: {why}")
    print(f"{'total':<12} tried {tried:4d}  clean {tried - total_bad:4d}")
    return 1 if total_bad else 0


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    sys.exit(main(sys.argv[1:]))

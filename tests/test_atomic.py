"""Shared helpers: atomic writers, figure saving, series collection, setting validators."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

from experiments import report  # noqa: E402
from experiments.study.atomic import (  # noqa: E402
    atomic_write,
    publish,
    save_figure,
    write_csv_atomic,
    write_parquet_atomic,
)
from experiments.config import (  # noqa: E402
    ConfigError,
    require_fraction,
    require_int,
    require_positive,
    require_seed,
)


def test_report_reexports_the_shared_writers():
    assert report.publish is publish
    assert report.atomic_write_text.__module__ == "experiments.study.atomic"


def test_writers_roundtrip_and_leave_no_temp_files(tmp_path):
    df = pd.DataFrame({"a": [1, 2], "b": [0.5, 1.5]}, index=pd.Index([7, 8], name="k"))
    write_parquet_atomic(df, tmp_path / "sub" / "t.parquet")
    pd.testing.assert_frame_equal(pd.read_parquet(tmp_path / "sub" / "t.parquet"),
                                  df.reset_index(drop=True))
    write_csv_atomic(df, tmp_path / "t.csv")
    assert (tmp_path / "t.csv").read_text() == "a,b\n1,0.5\n2,1.5\n"
    write_csv_atomic(df, tmp_path / "i.csv", index=True)
    assert (tmp_path / "i.csv").read_text() == "k,a,b\n7,1,0.5\n8,2,1.5\n"
    assert sorted(p.name for p in tmp_path.rglob(".*")) == []


def test_failed_write_keeps_old_file_and_removes_temp(tmp_path):
    dest = tmp_path / "x.txt"
    dest.write_text("old")

    def broken(tmp):
        tmp.write_text("half")
        raise RuntimeError("disk full")

    with pytest.raises(RuntimeError):
        atomic_write(dest, broken)
    assert dest.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["x.txt"]


@pytest.mark.parametrize("dpi", [110, 120])
def test_save_figure_uses_dpi_and_closes(tmp_path, dpi):
    fig, ax = plt.subplots(figsize=(2, 1))
    ax.plot([0, 1], [0, 1])
    path = save_figure(fig, tmp_path / "figs" / "f.png", dpi=dpi, bbox_inches=None)
    assert not plt.fignum_exists(fig.number)
    from PIL import Image

    with Image.open(path) as im:
        assert im.size == (2 * dpi, 1 * dpi)
    assert [p.name for p in path.parent.iterdir()] == ["f.png"]


def test_validators_messages():
    assert require_int({"n": 3}, "n", 2) == 3
    assert require_int({}, "ts", 0, default=1) == 1
    with pytest.raises(ConfigError, match=r"^replications: must be an integer >= 2, got 1$"):
        require_int({"replications": 1}, "replications", 2)
    with pytest.raises(ConfigError, match="got True"):
        require_int({"n": True}, "n", 0)
    with pytest.raises(ConfigError, match=r"^n: must be an integer >= 0, got None$"):
        require_int({}, "n", 0)
    assert require_positive({}, "gap_threshold_months", default=3) == 3
    with pytest.raises(ConfigError, match=r"^gap_threshold_months: must be a positive number"):
        require_positive({"gap_threshold_months": 0}, "gap_threshold_months")
    assert require_fraction({"level": 0.9}, "level") == 0.9
    for bad in (0, 1, 1.5, True, "0.5"):
        with pytest.raises(ConfigError, match=r"^level: must be a number in \(0, 1\)"):
            require_fraction({"level": bad}, "level")
    assert require_seed({"seed": 0}) == 0
    with pytest.raises(ConfigError, match=r"^seed: must be a non-negative integer, got -1$"):
        require_seed({"seed": -1})

"""The example notebook runs, cell after cell, as a kernel would run it: each cell in one
namespace, the value of a cell's last expression kept as its output."""

from __future__ import annotations

import ast
import json
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

NOTEBOOK = Path(__file__).resolve().parents[1] / "examples" / "quickstart.ipynb"


def run_cells(path: Path) -> list[Any]:
    """Each code cell's output (its last expression's value, else None), in order."""
    namespace: dict[str, Any] = {"__name__": "__main__"}
    outputs = []
    for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
        if cell["cell_type"] != "code":
            continue
        tree = ast.parse("".join(cell["source"]))
        last = tree.body.pop() if tree.body and isinstance(tree.body[-1], ast.Expr) else None
        exec(compile(tree, str(path), "exec"), namespace)  # noqa: S102 (our own notebook)
        outputs.append(None if last is None else
                       eval(compile(ast.Expression(last.value), str(path), "eval"), namespace))
    return outputs


@pytest.mark.slow
def test_the_quickstart_notebook_runs_on_the_bundled_data(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # it saves its run beside itself
    head, result, k_table, apart, personas, empathy, files = run_cells(NOTEBOOK)
    assert list(head.columns[:2]) == ["Invoice", "StockCode"] and len(head) == 5
    shown = result._repr_html_()  # what Jupyter shows for the cell
    names = [p["name"] for p in result.personas["personas"]]
    assert all(name.replace("'", "&#39;") in shown for name in names) and "<svg" in shown
    assert result.n_segments in k_table["k"].tolist()
    assert isinstance(apart, pd.DataFrame) and set(apart.index.get_level_values(0)) == \
        set(range(result.n_segments))
    assert personas["persona"].tolist() == names and personas["users"].sum() == 1_000
    assert empathy and all(isinstance(v, list) for v in empathy.values())
    assert {"report.html", "users_segmented.csv", "personas.json", "run.json"} <= set(files)

"""The example notebook runs in a real Jupyter kernel (nbclient + ipykernel, the [dev]
extra), on this interpreter, and shows what a reader of it should see."""

from __future__ import annotations

import html
import json
import os
import sys
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

from personae import load_run

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "examples" / "quickstart.ipynb"
KERNEL = "personae-test"


@pytest.fixture
def kernel_here(tmp_path: Path, monkeypatch) -> str:
    """A kernel spec for this interpreter, in a folder only this test reads: nothing is
    registered for the user or the system, and the kernel imports this checkout."""
    spec = tmp_path / "jupyter" / "kernels" / KERNEL
    spec.mkdir(parents=True)
    path = os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))
    (spec / "kernel.json").write_text(json.dumps({
        "argv": [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": "personae test", "language": "python",
        "env": {"PYTHONPATH": path}}))
    monkeypatch.setenv("JUPYTER_PATH", str(tmp_path / "jupyter"))
    monkeypatch.setenv("JUPYTER_PLATFORM_DIRS", "1")  # no deprecation warning from jupyter_core
    # connection files, IPython's history and config: in the test's folder, not the home's
    for variable, folder in (("JUPYTER_RUNTIME_DIR", "runtime"), ("IPYTHONDIR", "ipython"),
                             ("JUPYTER_CONFIG_DIR", "config"), ("JUPYTER_DATA_DIR", "data")):
        monkeypatch.setenv(variable, str(tmp_path / folder))
    return KERNEL


def _html(cell) -> str:
    return "".join(out.get("data", {}).get("text/html", "") for out in cell.outputs)


def _text(cell) -> str:
    return "".join(out.get("text", "") or out.get("data", {}).get("text/plain", "")
                   for out in cell.outputs)


@pytest.mark.slow
def test_the_quickstart_notebook_runs_in_a_kernel_and_shows_the_personas(
        tmp_path: Path, kernel_here: str) -> None:
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    NotebookClient(notebook, kernel_name=kernel_here, timeout=120,
                   resources={"metadata": {"path": str(tmp_path)}}).execute()  # saves there
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    errors = [out for cell in code for out in cell.outputs if out.output_type == "error"
              or out.get("name") == "stderr" and "Traceback" in out.get("text", "")]
    assert errors == []
    load, result, k_table, apart, personas, empathy, journeys, save, show = code
    assert "1,000 customers" in _text(load) and "Invoice" in _html(load)
    shown = _html(result)  # the result's own view: personas, sizes, facts, the map
    run = load_run(tmp_path / "quickstart-run")
    names = [html.escape(p["name"]) for p in run.personas["personas"]]
    assert len(names) >= 2 and all(f"<b>{name}</b>" in shown for name in names)
    assert "1,000 users" in shown and "Plotly.newPlot" in shown  # the map, drawn offline
    assert "silhouette" in _html(k_table)
    assert "z_score" in _html(apart)
    assert all(name in _html(personas) for name in names)
    assert "says" in _text(empathy) or "does" in _text(empathy)
    assert "lifecycle" in _text(journeys) and "2nd order" in _html(journeys)
    assert "report.html" in _text(save) and "users_segmented.csv" in _text(save)
    assert "<iframe srcdoc=" in _html(show)  # the whole report, inline
    assert all(name in html.unescape(_html(show)) for name in map(html.unescape, names))

"""Benchmark: `personae uplift` on generated experiments of 10M and 100M users.

    .venv/bin/python benchmarks/bench_uplift.py --rows 10M,100M --memory-limit 6GB

Writes, with DuckDB straight to Parquet (nothing sits in memory), a run folder (run.json and
users_segmented.parquet: user_id, segment of 20, two features) and an experiment table
(user_id, arm of three, conversion 0/1 with +2 points in segments 0-4 for arm 'mail',
spend) under benchmarks/.data/, then runs the CLI in its own process and reports wall time
and peak resident memory (measure.py). The planted effect is checked in the output.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
DATA = HERE / ".data" / "uplift"
SEGMENTS = 20


def parse_count(text: str) -> int:
    text = text.strip().upper()
    scale = {"K": 1_000, "M": 1_000_000, "G": 1_000_000_000}.get(text[-1:], 1)
    return int(float(text.rstrip("KMG")) * scale)


def generate(n: int, folder: Path) -> tuple[Path, Path]:
    import duckdb

    run, experiment = folder / "run", folder / "experiment.parquet"
    if (folder / "_SUCCESS").exists():
        return run, experiment
    shutil.rmtree(folder, ignore_errors=True)
    run.mkdir(parents=True)
    con = duckdb.connect()
    con.execute(f"SET temp_directory = '{folder}/.tmp'")
    users = (f"SELECT i AS user_id, CAST(hash(i) % {SEGMENTS} AS INTEGER) AS segment "
             f"FROM range({n}) t(i)")
    con.execute(f"COPY (SELECT user_id, segment, segment + 3 * random() AS tenure, "
                f"CASE WHEN random() < 0.3 THEN 'pro' ELSE 'basic' END AS plan FROM ({users})) "
                f"TO '{run}/users_segmented.parquet' (FORMAT parquet)")
    con.execute(
        f"COPY (SELECT user_id, arm, CAST(random() < 0.10 + CASE WHEN arm = 'mail' AND "
        f"segment < 5 THEN 0.02 ELSE 0 END AS INTEGER) AS conversion, "
        f"round(-ln(1 - random()) * 20, 2) AS spend FROM (SELECT *, ['control', 'mail', "
        f"'sms'][1 + CAST(floor(random() * 3) AS INTEGER)] AS arm "
        f"FROM ({users}))) TO '{experiment}' (FORMAT parquet)")
    # (not CASE floor(random() * 3) WHEN 0 ... WHEN 1 ...: DuckDB draws random() once per
    # WHEN, which gave 33/22/45% arms; the sample-ratio check caught it)
    (run / "run.json").write_text(json.dumps({"id_column": "user_id",
                                              "features_used": ["tenure", "plan=basic",
                                                                "plan=pro"]}))
    (folder / "_SUCCESS").touch()
    return run, experiment


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", default="10M,100M")
    parser.add_argument("--memory-limit", default="6GB")
    parser.add_argument("--clean", action="store_true")
    args = parser.parse_args()
    personae = str(Path(sys.executable).with_name("personae"))
    print("| users | seconds | peak GiB | planted +2 pts found in segments 0-4 |")
    print("|---:|---:|---:|---|")
    for text in args.rows.split(","):
        n = parse_count(text)
        run, experiment = generate(n, DATA / text)
        out = DATA / f"{text}-out"
        shutil.rmtree(out, ignore_errors=True)
        command = [personae, "uplift", str(run), str(experiment), "--arm", "arm", "--control",
                   "control", "--outcome", "conversion,spend", "--out", str(out),
                   "--memory-limit", args.memory_limit]
        measured = subprocess.run([sys.executable, str(HERE / "measure.py"), "--", *command],
                                  capture_output=True, text=True, check=True)
        result = json.loads(measured.stdout)
        if result["returncode"] != 0:
            print(f"| {text} | failed: {result['stderr_tail']} | | |")
            continue
        info = json.loads((out / "uplift.json").read_text())
        found = sorted(int(c["segment"]) for c in info["cells"]
                       if c["level"] == "segment" and c["arm"] == "mail"
                       and c["outcome"] == "conversion" and c["significant"] is True)
        print(f"| {text} | {result['seconds']} | {result['peak_gib']} | {found} |", flush=True)
        if args.clean:
            shutil.rmtree(DATA / text, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

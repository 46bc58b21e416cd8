"""A run segmented on sequence embeddings: personas, journeys, the map and the report's
sequence section speak from the sequence profiles (planted order: a known answer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from personae.config import (
    EventsConfig,
    InputConfig,
    ReportConfig,
    RunConfig,
    SequencesConfig,
)
from personae.features.planted import planted_order_log
from personae.pipeline import segment
from personae.report import build_report, write_report


def _run(map_method: str = "pca", representation: str = "embedding") -> Any:
    log, truth = planted_order_log(users_per_group=60, groups=4, sessions=3, noise=0.1, seed=3)
    sequences = SequencesConfig(representation=representation)
    config = RunConfig(input=InputConfig(events=EventsConfig(), sequences=sequences),
                       report=ReportConfig(map=map_method))
    return segment(log, config=config, algorithm="kmeans", k=4, random_state=0), truth


@pytest.fixture(scope="module")
def sequence_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Any, Path]:
    result, _ = _run()
    folder = tmp_path_factory.mktemp("sequences") / "run"
    result.save(folder)
    write_report(result, folder)
    return result, folder


def test_personas_and_journeys_speak_from_the_sequence_profiles(sequence_run):
    result, folder = sequence_run
    profiles = {p["segment"]: p for p in result.extra["sequence_profiles"]}
    for persona in result.personas["personas"]:
        seg = persona["segment"]
        story = persona["sequence"]
        assert story["typical"] == profiles[seg]["medoids"][0]["tokens"][:12]
        top = profiles[seg]["ngrams"][0]
        # the planted orders make each group's top n-gram clearly over-represented
        assert top["lift"] >= 2
        said = f"{top['lift']:.1f}x more likely than everyone else to go"
        assert said in persona["narrative"] or "no other user" in persona["narrative"]
        assert f"{top['users']:,} of them" in persona["narrative"]
        assert result.journeys["segments"][seg]["sequence"]["ngrams"][0] == top
    saved = json.loads((folder / "personas.json").read_text(encoding="utf-8"))
    assert saved["personas"][0]["sequence"]["source"]["file"] == "sequence_profiles.json"
    journeys = json.loads((folder / "journeys.json").read_text(encoding="utf-8"))
    assert "sequence" in journeys["segments"]["0"]


def test_embedding_coordinates_never_become_words():
    hybrid, _ = _run(representation="hybrid")
    for persona in hybrid.personas["personas"]:
        text = " ".join([persona["name"], persona["narrative"]]
                        + [d["text"] for d in persona["empathy_map"]["does"]])
        assert "emb" not in text.lower() and "sequence" in persona
    # the hybrid was segmented on behaviour and embeddings: the map keeps the model's space
    assert hybrid.user_map["space"].iloc[0].startswith("the model's feature space")


def test_the_map_is_drawn_from_the_embeddings(sequence_run):
    result, _ = sequence_run
    assert result.user_map["space"].iloc[0].startswith("the word2vec user vectors (32 dim")
    assert result.user_map["method"].iloc[0] == "PCA"


def test_a_reworded_report_from_the_folder_keeps_the_sequences(sequence_run):
    result, folder = sequence_run
    html, document = build_report(folder)
    assert 'id="sequences"' in html and "more likely than everyone else" in html
    assert document["personas"][0]["sequence"] == result.personas["personas"][0]["sequence"]


def test_the_sequence_sections_render_in_chromium(sequence_run, browser):
    result, folder = sequence_run
    page = browser.new_page(viewport={"width": 1366, "height": 900})
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto((folder / "report.html").as_uri())
    page.wait_for_load_state("load")
    sections = page.locator("#sequences div.sequence-profile")
    assert sections.count() == len(result.extra["sequence_profiles"]) == 4
    first = result.extra["sequence_profiles"][0]
    block = page.locator("#sequences-0")
    assert block.is_visible()
    rows = block.locator("table.ngrams tbody tr")
    assert rows.count() == len(first["ngrams"])
    cells = [rows.nth(0).locator("td").nth(i).inner_text() for i in range(5)]
    assert cells[1] == f"{first['ngrams'][0]['users']:,}"
    assert cells[4] == f"{first['ngrams'][0]['lift']:.1f}x"
    medoid = block.locator("ol.medoids li").first.inner_text()
    assert medoid.startswith(" \u2192 ".join(first["medoids"][0]["tokens"][:3]))
    card = page.locator("article#persona-0 ul.sequence-story li")
    assert card.count() >= 2 and "Typical sequence" in card.first.inner_text()
    assert page.locator("nav a[href='#sequences']").count() == 1
    assert "embedding" in page.locator("#map").inner_text() or \
        "user vectors" in page.locator("#map").inner_text()
    assert errors == []
    page.close()


@pytest.mark.slow
def test_umap_map_of_the_embeddings_is_seeded():
    first, _ = _run("umap")
    second, _ = _run("umap")
    assert first.user_map["method"].iloc[0] == "UMAP"
    assert first.user_map["x"].equals(second.user_map["x"])

"""``api.client.Scenario``: load/save and the what-if edits of ``with_`` (no server needed)."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from api.client import InvalidPlanError, InvalidScenarioError, Plan, Scenario
from solver.scenario import ScenarioError
from tests.client.conftest import DATA


def test_load_save_round_trip(tmp_path: Path, tiny: Scenario) -> None:
    out = tiny.save(tmp_path / "tiny.json")
    again = Scenario.load(out)
    assert again == tiny
    assert json.loads(out.read_text()) == tiny.doc
    # a dict, JSON text and a path give the same scenario
    assert Scenario(tiny.doc) == Scenario(json.dumps(tiny.doc)) == Scenario(str(out)) == tiny


def test_doc_is_a_copy(tiny: Scenario) -> None:
    doc = tiny.doc
    doc["sites"].clear()
    assert len(tiny.doc["sites"]) == 4


def test_invalid_document_lists_every_error_with_its_path() -> None:
    doc = json.loads((DATA / "tiny.json").read_text())
    doc["sites"][0]["region"] = "nowhere"
    doc["horizon"]["end"] = 2020
    with pytest.raises(InvalidScenarioError) as info:
        Scenario(doc)
    paths = {e.path for e in info.value.errors}
    assert "sites[0].region" in paths and "horizon" in {p.split(".")[0] for p in paths}
    text = str(info.value)
    assert "sites[0].region: unknown region 'nowhere'" in text
    assert all(e.path in text for e in info.value.errors)
    assert isinstance(info.value, ScenarioError)  # catchable as the solver's error too


def test_tables(national: Scenario) -> None:
    regions = national.regions
    assert len(regions) == 11 and regions["sites"].sum() == 177
    assert regions["population"].sum() == sum(s["population"] for s in national.doc["sites"])
    assert national.sites.shape[0] == 177
    crews = national.crews
    assert crews.shape == (13, 9)
    assert (crews[2027] == [p["count"] for p in national.doc["crews"]]).all()


def test_crews_scale_loses_a_third_of_the_crews_in_whole_crews(national: Scenario) -> None:
    fewer = national.with_(crews_scale={2027: 2 / 3})
    before, after = national.crews, fewer.crews
    # 56 crews in 2027: floor(56 * 2/3) = 37 remain, shared by largest remainder
    assert before[2027].sum() == 56 and after[2027].sum() == math.floor(56 * 2 / 3) == 37
    # each pool keeps its share rounded down or up, never more than it had
    for pool in before.index:
        exact = before.at[pool, 2027] * 2 / 3
        assert math.floor(exact) <= after.at[pool, 2027] <= math.ceil(exact)
    # the other years are untouched; counts are whole; available <= count
    assert after.drop(columns=2027).equals(before.drop(columns=2027))
    for pool in fewer.doc["crews"]:
        assert all(
            isinstance(v, int) and 0 <= v <= pool["count"] for v in pool["available"].values()
        )
    assert national.doc["crews"][0].get("available") is None  # the original is unchanged


def test_crews_scale_above_one_grows_the_pool(tiny: Scenario) -> None:
    more = tiny.with_(crews_scale={2031: 2})
    pools = {p["id"]: p for p in more.doc["crews"]}
    assert pools["k1"]["available"] == {"2030": 2, "2031": 4} and pools["k1"]["count"] == 4
    assert pools["k2"]["available"] == {"2030": 1, "2031": 2} and pools["k2"]["count"] == 2
    everywhere = tiny.with_(crews_scale=0.5)  # every year: 3 crews -> floor(1.5) = 1
    assert everywhere.crews.sum().tolist() == [1, 1]


def test_quota_edits(national: Scenario) -> None:
    edited = national.with_(
        region_year_quota=(None, 3),
        year_quota=(17, None),
        region_quota={"nampo": (0, 3), ("pyongyang", 2025): {"max": 2}},
    )
    q = edited.doc["quotas"]
    assert q["region_year"] == {"max": 3} and q["year"] == {"min": 17}
    nampo = [o for o in q["overrides"] if o["region"] == "nampo"]
    assert len(nampo) == 9 and all((o["min"], o["max"]) == (0, 3) for o in nampo)
    pyongyang = {o["year"]: o for o in q["overrides"] if o["region"] == "pyongyang"}
    assert pyongyang[2025] == {"region": "pyongyang", "year": 2025, "max": 2}  # replaced
    assert pyongyang[2024] == {"region": "pyongyang", "year": 2024, "min": 0, "max": 1}  # kept
    removed = national.with_(year_quota=(None, None))
    assert "year" not in removed.doc["quotas"]


def test_fix_weights_lead_time_name_and_patch(tiny: Scenario) -> None:
    edited = tiny.with_(
        fix={"s1": (2031, "basic"), "n2": 2030},
        weights={"mobilization": 0},
        lead_time=0,
        name="edited",
        patch={"balance": {"tolerance_pct": 50}},
    )
    sites = {s["id"]: s for s in edited.doc["sites"]}
    assert sites["s1"]["fixed"] == {"year": 2031, "option": "basic"}
    assert sites["n2"]["fixed"] == {"year": 2030}
    # the table's fixed years are whole years (nullable), not floats or objects
    table = edited.sites
    assert str(table["fixed_year"].dtype) == "Int64"
    assert table["fixed_year"].tolist() == [
        {"s1": 2031, "n2": 2030}.get(site, pd.NA) for site in table.index
    ]
    assert edited.doc["objective"] == {
        "benefit": 1,
        "mobilization": 0,
        "training": 1,
        "stability": 0,
    }
    assert edited.doc["training"] == {"lead_time": 0}
    assert edited.name == "edited" and edited.doc["balance"] == {"tolerance_pct": 50}
    unfixed = edited.with_(fix={"s1": None}, patch={"balance": None})
    assert "fixed" not in {s["id"]: s for s in unfixed.doc["sites"]}["s1"]
    assert "balance" not in unfixed.doc


def test_plan_load_names_what_is_not_a_plan(tmp_path: Path, tiny: Scenario) -> None:
    good = {
        "status": "feasible",
        "builds": [{"site": "n1", "region": "north", "year": 2030, "option": "basic", "crews": []}],
    }
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(good))
    assert Plan.load(path, tiny).builds["site"].tolist() == ["n1"]
    # a scenario given for a plan, a hand edit with a typo, and no JSON at all
    cases = [
        (DATA / "tiny.json", {"status", "training"}),
        ({**good, "builds": [{**good["builds"][0], "year": "2030"}]}, {"builds[0].year"}),
        ("not json", {""}),
    ]
    for case, paths in cases:
        if isinstance(case, Path):
            source = case
        else:
            source = tmp_path / "case.json"
            source.write_text(case if isinstance(case, str) else json.dumps(case))
        with pytest.raises(InvalidPlanError) as info:
            Plan.load(source, tiny)
        assert {e.path for e in info.value.errors} >= paths, info.value.errors
        assert str(info.value).startswith("invalid plan document:")
        assert isinstance(info.value, InvalidScenarioError)
        if paths != {""}:  # the document read by hand, Plan(json.load(f), scenario), alike: it
            # was a plan of status 'None', or a KeyError at .builds for a build without its region
            with pytest.raises(InvalidPlanError) as direct:
                Plan(json.loads(source.read_text()), tiny)
            assert direct.value.errors == info.value.errors
    with pytest.raises(InvalidPlanError, match=r"builds\[0\].region: Field required"):
        Plan({"status": "feasible", "builds": [{"site": "n1", "year": 2030}]}, tiny)


def test_diff_across_a_what_if_that_renames_a_region(tiny: Scenario) -> None:
    """A what-if may remove or rename a region: the diff's regions are both scenarios'."""
    renamed = Scenario(json.loads(json.dumps(tiny.doc).replace('"south"', '"east"')))

    def plan(scenario: Scenario, *builds: tuple[str, str, int, str]) -> Plan:
        rows = [
            dict(zip(("site", "region", "year", "option"), b, strict=True), crews=[])
            for b in builds
        ]
        return Plan({"status": "feasible", "builds": rows}, scenario)

    a = plan(tiny, ("n1", "north", 2031, "basic"), ("s1", "south", 2030, "basic"))
    b = plan(renamed, ("n1", "north", 2030, "basic"), ("s1", "east", 2031, "large"))
    diff = a.compare(b)
    table = diff.by_region
    assert table.index.tolist() == ["north", "east", "south"]
    assert table.loc["north", "earlier"] == 1 and table.loc["north", "mean_year_shift"] == -1
    # s1 keeps its id, so it moved and was redesigned; diff_plans reports it under a's region
    assert table.loc["south", ["later", "redesigned"]].tolist() == [1, 1]
    assert diff.plot() is not None and a.plot_comparison(b) is not None


def test_baseline_from_a_plan(tiny: Scenario) -> None:
    doc = {
        "status": "feasible",
        "builds": [{"site": "n1", "region": "north", "year": 2030, "option": "basic", "crews": []}],
    }
    plan = Plan(doc, tiny)
    with_base = tiny.with_(baseline=plan)
    assert with_base.doc["baseline"] == [{"site": "n1", "year": 2030, "option": "basic"}]
    assert "baseline" not in with_base.with_(baseline=[]).doc


def test_invalid_edits_name_their_paths(tiny: Scenario) -> None:
    with pytest.raises(InvalidScenarioError) as info:
        tiny.with_(
            fix={"nowhere": 2030}, crews_scale={1999: 0.5}, region_quota={"atlantis": (0, 1)}
        )
    paths = [e.path for e in info.value.errors]
    assert paths == ["with_.crews_scale.1999", "with_.region_quota.atlantis", "with_.fix.nowhere"]
    with pytest.raises(InvalidScenarioError) as info:
        tiny.with_(fix={"s1": 2030}, region_year_quota=(3, 1))  # s1's window opens in 2031
    found = {e.path for e in info.value.errors}
    assert {"sites[2].fixed.year", "quotas.region_year"} <= found
    assert "scenario after the what-if edits" in str(info.value)
    with pytest.raises(InvalidScenarioError):
        tiny.with_(crews_scale={2030: -1})
    # a factor past any count: the field named, not an OverflowError from float('inf')
    for scale, path in (
        (1e308, "with_.crews_scale"),
        ({2030: 1e308}, "with_.crews_scale.2030"),
        (6e307, "with_.crews_scale"),  # each pool's count finite, their sum not (a review)
    ):
        with pytest.raises(InvalidScenarioError) as info:
            tiny.with_(crews_scale=scale)
        assert [e.path for e in info.value.errors] == [path]
        assert "far too large" in info.value.errors[0].message


def test_an_empty_text_is_an_empty_document_not_a_path() -> None:
    """``Scenario("")`` read the current folder as a file (IsADirectoryError)."""
    for text in ("", "  \n"):
        with pytest.raises(InvalidScenarioError) as info:
            Scenario(text)
        assert [(e.path, e.message) for e in info.value.errors] == [
            ("", "not a JSON document: it is empty")
        ]


def test_the_client_imports_without_the_service_layers() -> None:
    """A notebook that only talks to a server (or plans locally) does not load the database
    layer or the web framework: ``api.client`` shares job states through ``api.states``."""
    code = (
        "import sys, api.client; "
        "print(sorted(m for m in ('sqlalchemy', 'fastapi', 'celery', 'api.storage') "
        "if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=120
    )
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_options_model_knows_every_backend_of_the_solver() -> None:
    """api.options.Backend is a Literal written out for the OpenAPI document; the service and
    Planner.local() refuse what it lacks, so it must stay the solver's list."""
    from typing import get_args

    from api.options import Backend
    from solver.solve import BACKENDS

    assert set(get_args(Backend)) == set(BACKENDS)


def test_edits_take_years_and_numbers_read_from_dataframes(pilot: Scenario) -> None:
    """Years and counts a notebook reads from the client's own DataFrames are numpy scalars
    (``plan.builds.year.max()``, ``scenario.crews.columns[2]``): the edits take them as the
    Python numbers they are, instead of calling 2026 "not a year of the horizon 2024..2027"."""
    import numpy as np

    year = pilot.crews.columns[2]  # 2026, a numpy int64
    assert isinstance(year, np.integer)
    edited = pilot.with_(
        crews_scale={year: 0.5},
        fix={"kangwon.anbyon": pilot.sites["earliest"].max()},
        region_quota={("kangwon", year): (np.int64(0), np.int64(4))},
        weights={"mobilization": np.int64(0)},
        lead_time=np.int64(2),
    )
    plain = pilot.with_(
        crews_scale={2026: 0.5},
        fix={"kangwon.anbyon": 2024},
        region_quota={("kangwon", 2026): (0, 4)},
        weights={"mobilization": 0},
        lead_time=2,
    )
    assert edited == plain
    assert edited.crews[2026].sum() == pilot.crews[2026].sum() // 2
    assert json.loads(json.dumps(edited.doc)) == plain.doc


def test_diff_of_two_plans_with_one_label_names_them_apart(tiny: Scenario) -> None:
    """Two solves of one scenario, or a re-plan of it, carry the scenario's name as their label:
    the diff's ``terms`` must not get two columns of one name (``terms[label]`` a DataFrame,
    ``to_dict`` dropping a plan), nor its chart two legend entries alike."""
    rows = [{"site": "n1", "region": "north", "year": 2030, "option": "basic", "crews": []}]
    a = Plan({"status": "feasible", "builds": rows, "terms": {"benefit": 3}}, tiny)
    b = Plan({"status": "feasible", "builds": [{**rows[0], "year": 2031}]}, tiny)
    assert a.label == b.label == "tiny"
    diff = a.compare(b)
    assert diff.labels == ("tiny (a)", "tiny (b)")
    terms = diff.terms
    assert terms.columns.tolist() == ["tiny (a)", "tiny (b)", "change"]
    assert terms.loc["benefit", "tiny (a)"] == 3
    figure = diff.plot()
    legends = [t.get_text() for t in figure.legends[0].get_texts()]
    assert legends == ["tiny (a)", "tiny (b)"]
    assert "tiny (a)" in repr(diff) and "tiny (b)" in diff._repr_html_()
    # distinct labels are kept as they are
    named = Plan(b.doc, tiny, label="later").compare(a)
    assert named.terms.columns.tolist() == ["later", "tiny", "change"]


def test_baseline_from_a_plans_builds_table(tiny: Scenario) -> None:
    """``with_(baseline=...)`` takes "a plan (or its builds)": ``plan.builds`` too, and a build
    without its site, year or option is named by its path, not a KeyError or TypeError."""
    doc = {
        "status": "feasible",
        "builds": [{"site": "n1", "region": "north", "year": 2030, "option": "basic", "crews": []}],
    }
    plan = Plan(doc, tiny)
    expected = [{"site": "n1", "year": 2030, "option": "basic"}]
    assert tiny.with_(baseline=plan.builds).doc["baseline"] == expected
    assert tiny.with_(baseline=plan.builds.to_dict("records")).doc["baseline"] == expected
    with pytest.raises(InvalidScenarioError) as info:
        tiny.with_(baseline=[{"site": "n1", "year": 2030, "option": "basic"}, {"site": "s1"}, "s2"])
    assert [e.path for e in info.value.errors] == ["with_.baseline[1]", "with_.baseline[2]"]


def test_edits_of_the_wrong_type_name_their_argument(tiny: Scenario) -> None:
    """Arguments of the wrong type raised AttributeError or TypeError from inside ``with_``, a
    file name as baseline one error per character, a string year "not a year of the horizon
    2030..2031": each is now an InvalidScenarioError at ``with_.<argument>`` saying what to give."""
    cases: list[tuple[dict[str, Any], str, str]] = [
        ({"fix": ["n1"]}, "with_.fix", "give {site: year}, {site: (year, option)} or {site: None}"),
        ({"region_quota": [("north", (0, 1))]}, "with_.region_quota", "give {region: (min, max)}"),
        (
            {"weights": 5},
            "with_.weights",
            "give {term: weight}, e.g. {'mobilization': 0}, not int 5",
        ),
        ({"baseline": 5}, "with_.baseline", "give a Plan, a Job, a plan document (dict)"),
        ({"baseline": "plan.json"}, "with_.baseline", "give Plan.load(path, scenario) for a plan"),
        (
            {"baseline": {"foo": 1}},
            "with_.baseline.builds",
            "the baseline plan has no list of builds",
        ),
        (
            {"patch": [1]},
            "with_.patch",
            "give a JSON merge patch (a dict of changes), not list [1]",
        ),
        (
            {"crews_scale": {"2030": 0.5}},
            "with_.crews_scale.2030",
            "a year is an integer, e.g. 2030",
        ),
        ({"crews_scale": "half"}, "with_.crews_scale", "give a factor (a number >= 0)"),
        (
            {"region_quota": {("north", "2030"): (0, 1)}},
            "with_.region_quota.north.2030",
            "a year is",
        ),
        ({"lead_time": "2"}, "with_.lead_time", "give a whole number of years, not str '2'"),
        ({"name": 5}, "with_.name", "give a string, not int 5"),
    ]
    for edits, path, message in cases:
        with pytest.raises(InvalidScenarioError) as info:
            tiny.with_(**edits)
        assert [e.path for e in info.value.errors] == [path], edits
        assert info.value.errors[0].message.startswith(message), info.value.errors
        assert "what-if edit" in str(info.value)
    # a factor for every year is one error, not one per year
    with pytest.raises(InvalidScenarioError) as info:
        tiny.with_(crews_scale=-1)
    assert [e.path for e in info.value.errors] == ["with_.crews_scale"]


def test_a_plan_paired_with_another_scenario_is_refused(tmp_path: Path, tiny: Scenario) -> None:
    """A plan read with a scenario that is not its own gave zero tables and no populations;
    it is now refused, naming each build the scenario has no place for. A plan whose builds the
    scenario has but its rules forbid still loads: that is ``check()``'s to report."""
    pilot = Scenario.load(DATA.parent.parent / "instances" / "kimhwa-pilot.json")
    build = {"site": "n1", "region": "north", "year": 2030, "option": "basic", "crews": []}
    path = tmp_path / "plan.json"
    path.write_text(json.dumps({"scenario": "tiny", "status": "feasible", "builds": [build]}))
    with pytest.raises(InvalidPlanError) as info:
        Plan.load(path, pilot)
    assert str(info.value).startswith("invalid plan for scenario 'kimhwa-pilot' (a plan of 'tiny')")
    assert [(e.path, e.message) for e in info.value.errors] == [
        ("builds[0].site", "'n1' is not a site of scenario 'kimhwa-pilot'"),
        ("builds[0].region", "'north' is not a region of scenario 'kimhwa-pilot'"),
        ("builds[0].year", "2030 is outside the horizon 2024..2027 of scenario 'kimhwa-pilot'"),
    ]
    with pytest.raises(InvalidPlanError, match=r"builds\[0\].option: 'huge' is not a design"):
        Plan({"status": "feasible", "builds": [{**build, "option": "huge"}]}, tiny)
    # the site exists, in another region: the plan loads and its check names the fault
    moved = Plan({"status": "feasible", "builds": [{**build, "region": "south"}]}, tiny)
    assert any("region is 'south', the site is in 'north'" in v for v in moved.check().violations)
    assert Plan.load(path, tiny).builds["site"].tolist() == ["n1"]

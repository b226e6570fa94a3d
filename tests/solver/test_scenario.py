"""SPEC §2 validation: every error is reported with its field path, never a traceback."""

import json
from typing import Any

import pytest

from solver.problem import build_problem
from solver.scenario import haversine_km, json_schema, validate_document
from tests.conftest import DATA, load
from tests.factory import scenario, site


def paths(doc: Any) -> dict[str, str]:
    scenario_, errors = validate_document(doc)
    assert scenario_ is None
    return {e.path: e.message for e in errors}


def test_examples_are_valid() -> None:
    for name in ("tiny", "generated-a", "generated-b", "infeasible-technicians"):
        sc, errors = validate_document(load(f"conformance/{name}"))
        assert errors == [] and sc is not None


def test_not_json() -> None:
    assert paths("{not json").keys() == {""}
    assert paths(b"\xff\xfe").keys() == {""}
    assert paths("[1, 2]") == {"": "the document must be a JSON object"}
    assert "" in paths('{"a": NaN}')
    # an empty document says so (it was "Expecting value: line 1 column 1")
    for blank in ("", " \n", b"", b"\xef\xbb\xbf\n"):
        assert paths(blank) == {"": "not a JSON document: it is empty"}


def test_a_per_year_object_is_not_also_told_to_be_an_integer() -> None:
    """An error inside a per-year object (``available.2030`` below 0) also reported
    ``available: must be a JSON integer`` — the union's other member, and no advice: the
    object form is valid (SPEC §2). An integer that is no integer is still said so."""
    doc = load("conformance/tiny")
    doc["crews"][0]["available"] = {"2030": -1, "2031": 1}
    doc["regions"][0]["training_capacity"] = {"2030": 1.5, "2031": 1}
    doc["regions"][1]["training_capacity"] = 1.5
    found = paths(doc)
    assert set(found) == {
        "crews[0].available.2030",
        "regions[0].training_capacity.2030",
        "regions[1].training_capacity",
    }, found
    assert "integer" in found["regions[1].training_capacity"]


@pytest.mark.parametrize(
    ("mutate", "path", "needle"),
    [
        (lambda d: d.update(extra=1), "extra", "unknown field"),
        (lambda d: d["sites"][0].update(population=3.0), "sites[0].population", "integer"),
        (lambda d: d["sites"][0].update(population=True), "sites[0].population", "integer"),
        (
            lambda d: d["sites"][0].update(population=1_000_000_001),
            "sites[0].population",
            "1000000000",
        ),
        (lambda d: d["sites"][0].update(earliest=None), "sites[0].earliest", "null"),
        (
            lambda d: d["sites"][0].update(region="nowhere"),
            "sites[0].region",
            "unknown region 'nowhere'",
        ),
        (lambda d: d["sites"][0].update(id="bad id!"), "sites[0].id", "[A-Za-z0-9_.-]"),
        (lambda d: d["sites"].append(dict(d["sites"][0])), "sites[1].id", "duplicate id"),
        (
            lambda d: d["sites"][0].update(benefit={"nope": 1}),
            "sites[0].benefit.nope",
            "unknown option",
        ),
        (lambda d: d["sites"][0].update(benefit={}), "sites[0].benefit", "at least one"),
        (
            lambda d: d["sites"][0].update(fixed={"year": 2040}),
            "sites[0].fixed.year",
            "outside the horizon",
        ),
        (
            lambda d: d["sites"][0].update(fixed={"year": 2030}, earliest=2031),
            "sites[0].fixed.year",
            "window",
        ),
        (
            lambda d: d["sites"][0].update(fixed={"year": 2030, "option": "x"}),
            "sites[0].fixed.option",
            "not among",
        ),
        (
            lambda d: d.update(quotas={"year": {"min": 3, "max": 2}}),
            "quotas.year",
            "greater than max",
        ),
        (
            lambda d: d.update(quotas={"overrides": [{"region": "r", "year": 2029}]}),
            "quotas.overrides[0].year",
            "not a year",
        ),
        (lambda d: d.update(horizon={"start": 2031, "end": 2030}), "horizon", "after end"),
        (lambda d: d.update(horizon={"start": 2000, "end": 2060}), "horizon", "at most 50"),
        (lambda d: d.update(schema_version=2), "schema_version", "1"),
        (
            lambda d: d["regions"][0].update(training_capacity={"2030": 1}),
            "regions[0].training_capacity",
            "missing year(s) 2031",
        ),
        (
            lambda d: d["regions"][0].update(training_capacity={"2030": 1, "2031": 1, "2032": 1}),
            "regions[0].training_capacity.2032",
            "not a year",
        ),
        (lambda d: d["options"][0].update(crews=1), "options[0].crews", "no crew pools"),
        (
            lambda d: d["options"][0].update(resources={"steel": 1}),
            "options[0].resources.steel",
            "unknown resource",
        ),
        (
            lambda d: d.update(precedences=[{"before": "a", "after": "a"}]),
            "precedences[0]",
            "same site",
        ),
        (
            lambda d: d.update(precedences=[{"before": "a", "after": "zz"}]),
            "precedences[0].after",
            "unknown site",
        ),
        (lambda d: d.update(balance={"tolerance_pct": 101}), "balance.tolerance_pct", "100"),
        (lambda d: d.update(objective={"benefit": 1_000_001}), "objective.benefit", "1000000"),
        (
            lambda d: d.update(baseline=[{"site": "a", "year": 2030, "option": "zz"}]),
            "baseline[0].option",
            "not among",
        ),
        (
            lambda d: d.update(
                crews=[{"id": "k", "count": 2, "lat": 40, "lon": 127, "available": 3}]
            ),
            "crews[0].available",
            "exceeds",
        ),
        (
            lambda d: d.update(crews=[{"id": "k", "count": 1, "lat": 91, "lon": 127}]),
            "crews[0].lat",
            "90",
        ),
        (
            lambda d: d.update(
                crews=[{"id": "k", "count": 1, "lat": 40, "lon": 127, "regions": []}]
            ),
            "crews[0].regions",
            "not be empty",
        ),
        (
            lambda d: (
                d.update(crews=[{"id": "k", "count": 1, "lat": 40, "lon": 127}]),
                d["sites"][0].pop("lat"),
            ),
            "sites[0].lat",
            "crew pools",
        ),
    ],
)
def test_each_rule_names_its_field(mutate: Any, path: str, needle: str) -> None:
    doc = scenario([site("a")])
    mutate(doc)
    found = paths(doc)
    assert path in found, found
    assert needle in found[path]


def test_every_error_is_reported() -> None:
    doc = scenario([site("a", region="x"), site("b", region="y")], extra=1)
    doc["sites"][0]["population"] = 1.5
    found = paths(doc)
    assert {"extra", "sites[0].population", "sites[0].region", "sites[1].region"} <= found.keys()


def test_scale_limit() -> None:
    doc = scenario(
        [site(f"s{i}", 1_000_000_000) for i in range(3)], end=2079, objective={"benefit": 1_000_000}
    )
    found = paths(doc)
    assert "objective" in found and "2^53" in found["objective"]


def test_scale_limit_counts_every_year_of_the_objective() -> None:
    """The objective's sum under §1 is over every variable: benefit accrues (end - y + 1)
    times for each year of a site's window, and a pool's crews travel in every year. The
    check took the largest factor once and one year's crews, so these two passed under 2^53
    (5.0e15, 4.5e15) while their sums are 1.275e17 and 9.009e15."""
    one_site = {
        "schema_version": 1,
        "regions": [{"id": "r"}],
        "sites": [{"id": "s", "region": "r", "population": 1, "lat": 0.0, "lon": 9.0}],
    }
    benefit = {
        **one_site,
        "horizon": {"start": 2000, "end": 2049},
        "options": [{"id": "o", "crews": 0}],
        "objective": {"benefit": 1_000_000},
    }
    benefit["sites"] = [{**one_site["sites"][0], "benefit": {"o": 100_000_000}}]
    assert paths(benefit) == {
        "objective": "the objective reaches 1.275e+17 > 2^53, the scale limit of SPEC §1"
    }
    crews = {
        **one_site,
        "horizon": {"start": 2030, "end": 2031},
        "options": [{"id": "o", "crews": 1}],
        "crews": [{"id": "k", "count": 1_000_000_000, "lat": 0.0, "lon": 0.0}],
        "objective": {"benefit": 1, "mobilization": 4500},
    }
    crews["sites"] = [{**one_site["sites"][0], "benefit": {"o": 1}}]
    assert paths(crews) == {
        "objective": "the objective reaches 9.009e+15 > 2^53, the scale limit of SPEC §1"
    }
    crews["objective"]["mobilization"] = 4000  # 8.008e15: within the limit
    assert validate_document(crews)[1] == []


def test_defaults_and_per_year_expansion() -> None:
    doc = scenario(
        [site("a", required=False)],
        crews=[
            {"id": "k", "count": 3, "lat": 40.0, "lon": 127.0, "available": {"2030": 1, "2031": 3}}
        ],
        options=[{"id": "o", "crews": 1}],
    )
    sc, errors = validate_document(json.dumps(doc))
    assert errors == [] and sc is not None
    data = build_problem(sc)
    assert data.available.tolist() == [[1, 3]]
    assert data.weights == {"benefit": 1, "mobilization": 0, "training": 0, "stability": 0}
    assert data.lead_time == 1
    assert not data.required[0]


def test_haversine_and_weights() -> None:
    # One degree of latitude on a 6371 km sphere: 111.19 km, rounded half up to 111.
    assert haversine_km(40.0, 127.0, 41.0, 127.0) == 111
    assert haversine_km(40.0, 127.0, 40.0, 127.0) == 0
    sc, _ = validate_document(
        scenario(
            [site("a", population=499), site("b", population=1500), site("c", population=2499)]
        )
    )
    assert sc is not None
    assert build_problem(sc).weight.tolist() == [1, 2, 2]


def test_json_schema_exports() -> None:
    schema = json_schema()
    assert schema["title"].startswith("rdplan scenario")
    assert {"horizon", "regions", "options", "sites"} <= set(schema["required"])
    # what it cannot hold is said in it: 3.0 passed it and not validate (a QA pass)
    assert "3.0" in schema["$comment"] and "rdplan validate is the reference" in schema["$comment"]


def test_json_schema_holds_what_validate_holds() -> None:
    """``rdplan schema`` took ``lat: 91`` (pydantic wrote its bounds as ``ge``/``le``, no JSON
    Schema keywords) and ``null`` in 23 optional fields, which SPEC §1 and validate refuse."""
    jsonschema = pytest.importorskip("jsonschema")
    schema = json_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    validator = jsonschema.Draft202012Validator(schema)
    for name in ("conformance/tiny", "conformance/generated-b", "national-20x10"):
        assert not list(validator.iter_errors(load(name))), name
    # and an empty benefit, an empty or repeated pool region list (a QA pass)
    for path, value in ((("sites", 0, "lat"), 91), (("sites", 0, "name"), None),
                        (("sites", 0, "earliest"), None), (("balance",), None),
                        (("sites", 0, "benefit"), {}), (("crews", 0, "regions"), []),
                        (("crews", 0, "regions"), ["north", "north"])):  # fmt: skip
        doc = load("conformance/tiny")
        node = doc
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = value
        assert list(validator.iter_errors(doc)), (path, value)
        assert validate_document(doc)[0] is None, (path, value)


def test_a_huge_coordinate_and_a_malformed_pool_region_are_errors_among_the_others() -> None:
    """A 401-digit integer latitude crashed validation (OverflowError, a traceback, no plan
    document); a pool region that is not a string hid every other reference error behind
    "could not check references"."""
    doc = load("conformance/tiny")
    doc["sites"][0]["lat"] = 10**400
    assert paths(doc) == {"sites[0].lat": "a number far out of range (too large for a float)"}
    doc = load("conformance/tiny")
    doc["crews"][0]["regions"] = [{}]
    doc["sites"][0]["region"] = "nowhere"
    assert paths(doc) == {
        "crews[0].regions[0]": "Input should be a valid string",
        "sites[0].region": "unknown region 'nowhere'",
    }


def test_a_one_sided_window_outside_the_horizon_says_what_defaulted() -> None:
    """The year left out is the horizon's (SPEC §2), so earliest 2040 alone is after the
    default latest: invalid, as before, but the message now says where its latest came from
    and how to make the site unbuildable instead. A horizon that is not one gives no default:
    it was also reported as every site's window."""
    doc = load("conformance/tiny")  # horizon 2030..2031
    doc["sites"][0]["earliest"] = 2040
    assert paths(doc)["sites[0].earliest"].startswith(
        "earliest 2040 is after the horizon's end 2031, the default latest: give latest too"
    )
    doc["sites"][0]["latest"] = 2041  # wholly after the horizon: valid, unbuildable
    doc["sites"][0]["required"] = False
    assert validate_document(doc)[1] == []
    doc = load("conformance/tiny")
    doc["sites"][1]["latest"] = 2020
    assert paths(doc)["sites[1].latest"].startswith(
        "latest 2020 is before the horizon's start 2030, the default earliest"
    )
    doc = load("conformance/tiny")
    doc["horizon"]["start"] = 10**30
    assert not any(p.startswith("sites") for p in paths(doc))


def test_a_key_given_twice_is_an_error_at_its_path() -> None:
    """Python's json keeps a key's last value and drops the others without a word: a scenario
    with ``"sites": [], "sites": [...]`` validated, against SPEC §2 (nothing silently ignored)."""
    text = (DATA / "tiny.json").read_text()
    twice = "this key is given more than once in its object"
    for changed, path in (
        (text.replace('"sites": [', '"sites": [], "sites": [', 1), "sites"),
        (text.replace('"lat":', '"lat": 1, "lat":', 1), "sites[0].lat"),
    ):
        scenario, errors = validate_document(changed)
        assert scenario is None and [(e.path, e.message[: len(twice)]) for e in errors] == [
            (path, twice)
        ]
    assert validate_document(text)[1] == []


def test_an_integer_too_long_to_read_is_named_at_its_path() -> None:
    """An integer over Python's 4,300 digits is JSON that ``int()`` will not convert: it was
    "not a JSON document" at the document's root; it is named where it is."""
    text = (
        (DATA / "tiny.json")
        .read_text()
        .replace('"schema_version": 1', '"schema_version": 1' + "0" * 4400, 1)
    )
    scenario, errors = validate_document(text)
    assert scenario is None
    assert [(e.path, e.message) for e in errors] == [
        ("schema_version", "a number of more than 4,300 digits: far out of any range here")
    ]

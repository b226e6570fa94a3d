"""The scenario document of SPEC §2 as pydantic v2 models, and its validation.

Validation runs in two passes so that a planner sees *every* error at once:

1. the structural pass (pydantic): types, ranges, unknown fields, ``null``;
2. the semantic pass (:func:`_semantic_errors`): references between lists,
   per-year keys, ``min <= max``, windows, crews and coordinates, the scale
   limit. It reads the raw document defensively, so it also reports what it
   can when the structural pass already failed.

Both passes produce :class:`FieldError` items whose ``path`` uses the SPEC's
notation (``sites[3].region``).
"""

from __future__ import annotations

import json
import math
import re
import sys
from collections import Counter, deque
from collections.abc import Iterable, Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictInt,
    ValidationError,
)

MAX_INT = 1_000_000_000
MAX_WEIGHT = 1_000_000
SCALE_LIMIT = 2**53
ID_PATTERN = r"^[A-Za-z0-9_.-]{1,64}$"
_ID_RE = re.compile(ID_PATTERN)


def _not_null(value: Any) -> Any:
    if value is None:
        raise ValueError("null is not allowed; leave the field out instead")
    return value


def _number(value: Any) -> Any:
    # JSON numbers: ints and floats, never booleans.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be a JSON number")
    try:
        number = float(value)
    except OverflowError:  # an integer of hundreds of digits: beyond any range here
        raise ValueError("a number far out of range (too large for a float)") from None
    if not math.isfinite(number):
        # Python's json reads NaN and Infinity, which JSON has not, and a literal past a
        # double's range (1e400) as Infinity: the message fits both (the latter was told it
        # was not JSON, a QA pass)
        raise ValueError(
            "must be a finite JSON number: NaN and Infinity are not JSON, and a number past"
            " 1.8e308 is out of range"
        )
    return number


NotNull = BeforeValidator(_not_null)
Id = Annotated[str, Field(pattern=ID_PATTERN, strict=True)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT)]
PositiveCount = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]
#: The years a scenario or a baseline may name (SPEC §2).
YEAR_MIN, YEAR_MAX = 1900, 2200
Year = Annotated[StrictInt, Field(ge=YEAR_MIN, le=YEAR_MAX)]
Weight = Annotated[StrictInt, Field(ge=0, le=MAX_WEIGHT), NotNull]
Name = Annotated[str | None, Field(max_length=200, strict=True), NotNull]
Lat = Annotated[float, BeforeValidator(_number), Field(ge=-90, le=90)]
Lon = Annotated[float, BeforeValidator(_number), Field(ge=-180, le=180)]
PerYear = Count | dict[str, Count]
OptPerYear = Annotated[PerYear | None, NotNull]
OptCount = Annotated[Count | None, NotNull]
OptYear = Annotated[Year | None, NotNull]
OptLat = Annotated[Lat | None, NotNull]
OptLon = Annotated[Lon | None, NotNull]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Horizon(_Model):
    start: Year
    end: Year

    @property
    def years(self) -> range:
        return range(self.start, self.end + 1)


class Region(_Model):
    id: Id
    name: Name = None
    training_capacity: OptPerYear = None
    trained_stock: Annotated[Count, NotNull] = 0


class Option(_Model):
    id: Id
    name: Name = None
    crews: Count
    technicians: Annotated[Count, NotNull] = 0
    resources: Annotated[dict[str, Count], NotNull] = Field(default_factory=dict)


class Fixed(_Model):
    year: Year
    option: Annotated[Id | None, NotNull] = None


class Site(_Model):
    id: Id
    name: Name = None
    region: Id
    population: Count
    lat: OptLat = None
    lon: OptLon = None
    # the schema says what the semantic pass checks (validate: "must name at least one option")
    benefit: Annotated[dict[str, Count], Field(json_schema_extra={"minProperties": 1})]
    earliest: OptYear = None
    latest: OptYear = None
    required: Annotated[bool, Field(strict=True), NotNull] = True
    fixed: Annotated[Fixed | None, NotNull] = None


class CrewPool(_Model):
    id: Id
    name: Name = None
    count: PositiveCount
    lat: Lat
    lon: Lon
    available: OptPerYear = None
    regions: Annotated[
        list[Id] | None,
        NotNull,
        Field(json_schema_extra={"minItems": 1, "uniqueItems": True}),  # as validate checks
    ] = None
    max_distance_km: OptCount = None


class Resource(_Model):
    id: Id
    name: Name = None
    limit: PerYear


class Bounds(_Model):
    min: OptCount = None
    max: OptCount = None


class Override(_Model):
    region: Id
    year: Year
    min: OptCount = None
    max: OptCount = None


class Quotas(_Model):
    region_year: Annotated[Bounds | None, NotNull] = None
    year: Annotated[Bounds | None, NotNull] = None
    overrides: Annotated[list[Override], NotNull] = Field(default_factory=list)


class Precedence(_Model):
    before: Id
    after: Id
    gap: Annotated[Count, NotNull] = 0


class Training(_Model):
    lead_time: Annotated[Count, NotNull] = 1


class Balance(_Model):
    tolerance_pct: Annotated[StrictInt, Field(ge=0, le=100)]


class Objective(_Model):
    benefit: Weight = 1
    mobilization: Weight = 0
    training: Weight = 0
    stability: Weight = 0


class BaselineEntry(_Model):
    site: Id
    year: Year
    option: Id


class Scenario(_Model):
    """A validated scenario document (SPEC §2)."""

    schema_version: Annotated[StrictInt, Field(ge=1, le=1)]
    name: Name = None
    horizon: Horizon
    regions: list[Region]
    options: list[Option] = Field(min_length=1)
    sites: list[Site] = Field(min_length=1)
    crews: Annotated[list[CrewPool], NotNull] = Field(default_factory=list)
    resources: Annotated[list[Resource], NotNull] = Field(default_factory=list)
    quotas: Annotated[Quotas, NotNull] = Field(default_factory=Quotas)
    precedences: Annotated[list[Precedence], NotNull] = Field(default_factory=list)
    training: Annotated[Training, NotNull] = Field(default_factory=Training)
    balance: Annotated[Balance | None, NotNull] = None
    objective: Annotated[Objective, NotNull] = Field(default_factory=Objective)
    baseline: Annotated[list[BaselineEntry], NotNull] = Field(default_factory=list)

    @property
    def years(self) -> range:
        return self.horizon.years

    def to_document(self) -> dict[str, Any]:
        """The scenario as a JSON-ready document, without defaulted fields."""
        return self.model_dump(mode="json", exclude_unset=True)


class FieldError(BaseModel):
    """One validation error: where (SPEC path notation) and why."""

    path: str
    message: str


class ScenarioError(ValueError):
    """Raised for a document that breaks SPEC §2; carries every error found."""

    def __init__(self, errors: list[FieldError]):
        self.errors = errors
        summary = "; ".join(f"{e.path or '<document>'}: {e.message}" for e in errors[:5])
        more = f" (+{len(errors) - 5} more)" if len(errors) > 5 else ""
        super().__init__(f"invalid scenario: {summary}{more}")


def format_path(loc: Iterable[int | str]) -> str:
    """``('sites', 3, 'region')`` -> ``'sites[3].region'``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


_UNION_TAGS = {"int", "dict[str,int]", "constrained-int", "list[constrained-str]"}


def _clean_loc(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    # pydantic inserts union member tags and validator names into locations.
    keep = []
    for part in loc:
        if isinstance(part, str) and (
            part in _UNION_TAGS
            or part.startswith(("function-", "constrained-", "dict[", "list[", "Fixed", "Bounds"))
            or part in {"Balance", "Quotas", "Objective", "Training", "is-instance[bool]"}
        ):
            continue
        keep.append(part)
    return tuple(keep)


def error_message(err: Mapping[str, Any]) -> str:
    """A pydantic error's message without pydantic's "Value error, " (a validator's own words
    follow it), as every rdplan error shows it; where an object was expected, no class name
    ("Input should be a valid dictionary or instance of BatchVariant"), nor "a valid number"
    for a string in a strict field."""
    kind = err.get("type")
    if kind in ("model_type", "model_attributes_type", "dict_type"):
        return "must be a JSON object"
    # Strict fields ("10" for a number): say which JSON type, not "a valid number".
    if kind == "float_type":
        return "must be a JSON number"
    if kind == "int_type":
        return "must be a JSON integer"
    if kind == "bool_type":
        return "must be true or false"
    return str(err.get("msg", "invalid value")).removeprefix("Value error, ")


def pydantic_errors(exc: ValidationError) -> list[FieldError]:
    """A pydantic error's every field as rdplan names it (``sites[3].region``: message)."""
    seen: dict[str, FieldError] = {}
    for err in exc.errors(include_url=False):
        loc = _clean_loc(tuple(err["loc"]))
        path = format_path(loc)
        kind = err["type"]
        if kind == "extra_forbidden":
            msg = f"unknown field '{loc[-1]}'" if loc else "unknown field"
        elif kind == "missing":
            msg = "required field is missing"
        elif kind in {"int_type", "int_parsing", "int_from_float"}:
            msg = "must be a JSON integer (no fraction, exponent or boolean)"
        elif kind == "string_pattern_mismatch":
            msg = "must match [A-Za-z0-9_.-]{1,64}"
        else:
            msg = error_message(err)
        # Union members each report the same value; keep the first, most useful one.
        if path in seen and kind in {"dict_type", "int_type"}:
            continue
        if (
            path in seen
            and seen[path].message.startswith("must be a JSON integer")
            and kind == "dict_type"
        ):
            continue
        if path not in seen or kind != "dict_type":
            seen.setdefault(path, FieldError(path=path, message=msg))
    # A per-year object ({"2030": -1}) fails an integer-or-object union as an object, inside
    # it; the integer member's "must be a JSON integer" at the object itself is no advice.
    inside = {parent for path in seen for parent in _ancestors(path)}
    return [
        e
        for path, e in seen.items()
        if not (e.message.startswith("must be a JSON integer") and path in inside)
    ]


def _ancestors(path: str) -> list[str]:
    """``a[1].b.2030`` → ``a[1].b``, ``a[1]``, ``a``."""
    out = []
    while (cut := max(path.rfind("."), path.rfind("["))) > 0:
        path = path[:cut]
        out.append(path)
    return out


# -- semantic checks on the raw document -------------------------------------


def _items(doc: dict[str, Any], key: str) -> list[tuple[int, dict[str, Any]]]:
    value = doc.get(key)
    if not isinstance(value, list):
        return []
    return [(i, item) for i, item in enumerate(value) if isinstance(item, dict)]


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_year(value: Any) -> bool:
    return _is_int(value) and YEAR_MIN <= value <= YEAR_MAX


def _is_id(value: Any) -> bool:
    return isinstance(value, str) and bool(_ID_RE.match(value))


def _semantic_errors(doc: dict[str, Any]) -> list[FieldError]:
    errors: list[FieldError] = []

    def err(path: str, message: str) -> None:
        errors.append(FieldError(path=path, message=message))

    # The raw document is untyped JSON: every access below is guarded at run time.
    horizon: Any = doc.get("horizon") if isinstance(doc.get("horizon"), dict) else {}
    start: Any = horizon.get("start")
    end: Any = horizon.get("end")
    years: list[int] | None = None
    if _is_int(start) and _is_int(end):
        if start > end:
            err("horizon", f"start {start} is after end {end}")
        elif end - start + 1 > 50:
            err("horizon", f"the horizon has {end - start + 1} years; at most 50 are allowed")
        else:
            years = list(range(start, end + 1))
    horizon_ok = _is_year(start) and _is_year(end) and start <= end

    def ids(key: str) -> set[str]:
        found: dict[str, int] = {}
        for i, item in _items(doc, key):
            value: Any = item.get("id")
            if _is_id(value):
                if value in found:
                    err(f"{key}[{i}].id", f"duplicate id '{value}' (also {key}[{found[value]}])")
                else:
                    found[value] = i
        return set(found)

    region_ids = ids("regions")
    option_ids = ids("options")
    site_ids = ids("sites")
    ids("crews")
    resource_ids = ids("resources")

    def per_year(path: str, value: Any, upper: int | None = None) -> None:
        if isinstance(value, dict) and years is not None:
            expected = {str(y) for y in years}
            missing = sorted(expected - set(value))
            extra = sorted(set(value) - expected)
            if missing:
                err(path, "missing year(s) " + ", ".join(missing) + " of the horizon")
            for key in extra:
                err(
                    f"{path}.{key}", f"'{key}' is not a year of the horizon {years[0]}..{years[-1]}"
                )
        if upper is not None:
            values = value.values() if isinstance(value, dict) else [value]
            for v in values:
                if _is_int(v) and v > upper:
                    err(path, f"{v} exceeds the pool's count {upper}")
                    break

    for i, region_doc in _items(doc, "regions"):
        if "training_capacity" in region_doc:
            per_year(f"regions[{i}].training_capacity", region_doc["training_capacity"])

    options = dict(_items(doc, "options"))
    for i, option in options.items():
        res = option.get("resources")
        if isinstance(res, dict):
            for q in res:
                if q not in resource_ids:
                    err(f"options[{i}].resources.{q}", f"unknown resource '{q}'")

    crews = _items(doc, "crews")
    for i, pool in crews:
        count = pool.get("count") if _is_int(pool.get("count")) else None
        if "available" in pool:
            per_year(f"crews[{i}].available", pool["available"], count)
        regions = pool.get("regions")
        if isinstance(regions, list):
            if not regions:
                err(f"crews[{i}].regions", "must not be empty; leave it out to serve all regions")
            seen_r: set[str] = set()
            for j, r in enumerate(regions):
                if _is_id(r) and r not in region_ids:
                    err(f"crews[{i}].regions[{j}]", f"unknown region '{r}'")
                if not isinstance(r, str):  # a type error, said by the structural pass
                    continue
                if r in seen_r:
                    err(f"crews[{i}].regions[{j}]", f"region '{r}' listed twice")
                seen_r.add(r)
    if not crews and years is not None:
        for i, option in options.items():
            if _is_int(option.get("crews")) and option["crews"] > 0:
                err(
                    f"options[{i}].crews",
                    f"option '{option.get('id')}' needs {option['crews']} crews but the scenario has no crew pools",
                )

    for i, resource in _items(doc, "resources"):
        if "limit" in resource:
            per_year(f"resources[{i}].limit", resource["limit"])

    site_options: dict[str, set[str]] = {}
    site: Any
    for i, site in _items(doc, "sites"):
        path = f"sites[{i}]"
        region: Any = site.get("region")
        if _is_id(region) and region not in region_ids:
            err(f"{path}.region", f"unknown region '{region}'")
        benefit = site.get("benefit")
        allowed: set[str] = set()
        if isinstance(benefit, dict):
            if not benefit:
                err(f"{path}.benefit", "must name at least one option")
            for o in benefit:
                if o not in option_ids:
                    err(f"{path}.benefit.{o}", f"unknown option '{o}'")
                else:
                    allowed.add(o)
        if _is_id(site.get("id")):
            site_options[site["id"]] = allowed
        if crews:
            for coord in ("lat", "lon"):
                if coord not in site:
                    err(
                        f"{path}.{coord}",
                        "required because the scenario has crew pools (distances)",
                    )
        # a year left out is the horizon's (SPEC §2), when the horizon is one at all (else
        # its own error says what is wrong, and every site's window would repeat it)
        lo = site.get("earliest", start if horizon_ok else None)
        hi = site.get("latest", end if horizon_ok else None)
        if _is_int(lo) and _is_int(hi) and lo > hi:
            if "latest" not in site:
                message = f"earliest {lo} is after the horizon's end {hi}, the default latest: give latest too for a window after the horizon (the site is then unbuildable)"
                err(f"{path}.earliest", message)
            elif "earliest" not in site:
                message = f"latest {hi} is before the horizon's start {lo}, the default earliest: give earliest too for a window before the horizon (the site is then unbuildable)"
                err(f"{path}.latest", message)
            else:
                err(f"{path}.latest", f"latest {hi} is before earliest {lo}")
        fixed = site.get("fixed")
        if isinstance(fixed, dict):
            fy = fixed.get("year")
            if _is_int(fy) and _is_int(start) and _is_int(end):
                if not start <= fy <= end:
                    err(f"{path}.fixed.year", f"{fy} is outside the horizon {start}..{end}")
                elif _is_int(lo) and _is_int(hi) and not lo <= fy <= hi:
                    err(f"{path}.fixed.year", f"{fy} is outside the site's window {lo}..{hi}")
            fo = fixed.get("option")
            if isinstance(fo, str) and isinstance(benefit, dict) and fo not in benefit:
                err(
                    f"{path}.fixed.option",
                    f"'{fo}' is not among the site's options (its benefit keys)",
                )

    quotas: Any = doc.get("quotas") if isinstance(doc.get("quotas"), dict) else {}
    for key in ("region_year", "year"):
        b = quotas.get(key)
        if (
            isinstance(b, dict)
            and _is_int(b.get("min"))
            and _is_int(b.get("max"))
            and b["min"] > b["max"]
        ):
            err(f"quotas.{key}", f"min {b['min']} is greater than max {b['max']}")
    overrides = quotas.get("overrides")
    if isinstance(overrides, list):
        seen_o: dict[tuple[Any, Any], int] = {}
        for i, o in enumerate(overrides):
            if not isinstance(o, dict):
                continue
            path = f"quotas.overrides[{i}]"
            if _is_id(o.get("region")) and o["region"] not in region_ids:
                err(f"{path}.region", f"unknown region '{o['region']}'")
            if _is_int(o.get("year")) and years is not None and o["year"] not in years:
                err(f"{path}.year", f"{o['year']} is not a year of the horizon")
            if _is_int(o.get("min")) and _is_int(o.get("max")) and o["min"] > o["max"]:
                err(path, f"min {o['min']} is greater than max {o['max']}")
            key2 = (o.get("region"), o.get("year"))
            if isinstance(key2[0], str) and _is_int(key2[1]):
                if key2 in seen_o:
                    err(
                        path,
                        f"a second override for region '{key2[0]}' and year {key2[1]} (also overrides[{seen_o[key2]}])",
                    )
                else:
                    seen_o[key2] = i

    seen_p: dict[tuple[str, str], int] = {}
    for i, p in _items(doc, "precedences"):
        path = f"precedences[{i}]"
        for key in ("before", "after"):
            if _is_id(p.get(key)) and p[key] not in site_ids:
                err(f"{path}.{key}", f"unknown site '{p[key]}'")
        if isinstance(p.get("before"), str) and p.get("before") == p.get("after"):
            err(path, "before and after are the same site")
        pair = (p.get("before"), p.get("after"))
        if all(isinstance(v, str) for v in pair):
            if pair in seen_p:
                err(
                    path,
                    f"a second entry for the pair {pair[0]} -> {pair[1]} (also precedences[{seen_p[pair]}])",
                )
            else:
                seen_p[pair] = i  # type: ignore[index]

    seen_b: dict[str, int] = {}
    for i, entry in _items(doc, "baseline"):
        path = f"baseline[{i}]"
        s: Any = entry.get("site")
        if _is_id(s):
            if s not in site_ids:
                err(f"{path}.site", f"unknown site '{s}'")
            elif isinstance(entry.get("option"), str) and entry["option"] not in site_options.get(
                s, set()
            ):
                err(f"{path}.option", f"'{entry['option']}' is not among the options of site '{s}'")
            if s in seen_b:
                err(
                    f"{path}.site",
                    f"site '{s}' appears twice in the baseline (also baseline[{seen_b[s]}])",
                )
            else:
                seen_b[s] = i
    return errors


def _scale_errors(scenario: Scenario) -> list[FieldError]:
    """SPEC §1 scale limit: Σ |coef| × (largest value) <= 2^53 per row and objective."""
    # Imported here: problem data depends on this module.
    from solver.problem import scale_report

    return [FieldError(path=path, message=msg) for path, msg in scale_report(scenario)]


def load_document(source: str | bytes | dict[str, Any]) -> dict[str, Any]:
    """Parse JSON text into a document; raise :class:`ScenarioError` if it is not JSON."""
    if isinstance(source, dict):
        return source
    try:
        doc = read_json(source, parse_constant=_reject_constant)
    except JsonFieldErrors as exc:  # JSON, with a key given twice or an integer too long
        raise ScenarioError(exc.errors) from None
    except (ValueError, UnicodeDecodeError) as exc:
        # an empty document said "Expecting value: line 1 column 1", which named no cause;
        # looked at only here, not decoded on every document read
        text = source.decode("utf-8", "replace") if isinstance(source, bytes) else source
        said = "it is empty" if not text.strip("\ufeff \t\r\n") else str(exc)
        raise ScenarioError([FieldError(path="", message=f"not a JSON document: {said}")]) from None
    except RecursionError:  # nesting deeper than the parser goes (the service says the same)
        raise ScenarioError(
            [FieldError(path="", message="not a JSON document: it is nested too deeply")]
        ) from None
    if not isinstance(doc, dict):
        raise ScenarioError([FieldError(path="", message="the document must be a JSON object")])
    return doc


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


class _Twice(dict[str, Any]):
    """A JSON object that named a key more than once (:attr:`keys_twice`); Python's json
    keeps the last value and drops the others without a word."""

    keys_twice: list[str]


def _loads_marking_twice(source: str | bytes, **kw: Any) -> tuple[Any, bool]:
    """``json.loads`` with each object that gives a key twice as :class:`_Twice`, and whether
    there was one (so that a document without any is not walked)."""
    seen: list[bool] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        obj = dict(items)  # the last value of a key, as json itself keeps
        if len(obj) == len(items):
            return obj
        counts = Counter(key for key, _ in items)
        marked = _Twice(obj)
        marked.keys_twice = [key for key, n in counts.items() if n > 1]
        seen.append(True)
        return marked

    doc = json.loads(source, object_pairs_hook=pairs, **kw)
    return doc, bool(seen)


class JsonFieldErrors(ValueError):
    """JSON that reads, but not as its author meant, named at the paths at fault: a key given
    twice in one object, an integer longer than Python converts."""

    def __init__(self, errors: list[FieldError]):
        super().__init__("; ".join(f"{e.path}: {e.message}" for e in errors))
        self.errors = errors


class _Digits(int):
    """An integer too long for ``int()`` (``sys.get_int_max_str_digits()``), in its place."""


def read_json(source: str | bytes, **kw: Any) -> Any:
    """JSON text as Python's json reads it (``kw``: ``json.loads``'s own), but a key given
    twice in one object (kept its last value without a word) or an integer of more digits
    than Python converts (the service: a bare 400) is :class:`JsonFieldErrors` at its path;
    a scenario file's reading (:func:`load_document`) and the service's request bodies."""
    try:
        doc, twice_seen = _loads_marking_twice(source, **kw)
    except ValueError as exc:
        # int()'s digit limit (a JSON syntax error is a JSONDecodeError, which says so)
        if "integer string conversion" not in str(exc) or isinstance(exc, json.JSONDecodeError):
            raise
        raise JsonFieldErrors(_digits_errors(source)) from None
    if twice_seen:
        raise JsonFieldErrors(_keys_given_twice(doc))
    return doc


def _digits_errors(source: str | bytes) -> list[FieldError]:
    """The path of the first integer in ``source`` longer than ``int()`` converts."""
    limit = sys.get_int_max_str_digits()

    def parse_int(text: str) -> int:
        return _Digits(len(text)) if len(text) > limit else int(text)

    doc = json.loads(source, parse_int=parse_int)
    where = next((loc for loc, value in _walk(doc) if isinstance(value, _Digits)), ())
    message = f"a number of more than {limit:,} digits: far out of any range here"
    return [FieldError(path=format_path(where), message=message)]


def _walk(doc: Any) -> Iterable[tuple[tuple[Any, ...], Any]]:
    """Every value of a JSON document with its path, parents first."""
    todo: deque[tuple[tuple[Any, ...], Any]] = deque([((), doc)])
    while todo:
        loc, node = todo.popleft()
        yield loc, node
        if isinstance(node, dict):
            todo.extend(((*loc, k), v) for k, v in node.items())
        elif isinstance(node, list):
            todo.extend(((*loc, i), v) for i, v in enumerate(node))


def _keys_given_twice(doc: Any) -> list[FieldError]:
    """Every key a JSON object of ``doc`` gave more than once, at its path: SPEC §2 lets
    nothing be silently ignored, and one of the values would be."""
    errors = [
        FieldError(
            path=format_path((*loc, key)),
            message="this key is given more than once in its object (JSON keys are unique:"
            " the values before the last would be ignored)",
        )
        for loc, node in _walk(doc)
        if isinstance(node, _Twice)
        for key in node.keys_twice
    ]
    return sorted(errors, key=lambda e: e.path)


def validate_document(
    source: str | bytes | dict[str, Any],
) -> tuple[Scenario | None, list[FieldError]]:
    """Validate a scenario document; return ``(scenario, [])`` or ``(None, errors)``."""
    try:
        doc = load_document(source)
    except ScenarioError as exc:
        return None, exc.errors
    errors: list[FieldError] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(doc)
    except ValidationError as exc:
        errors.extend(pydantic_errors(exc))
    try:
        semantic = _semantic_errors(doc)
    except Exception as exc:  # defensive: a malformed document must never crash validation
        semantic = [FieldError(path="", message=f"could not check references: {exc}")]
    known = {e.path for e in errors}
    errors.extend(e for e in semantic if e.path not in known)
    if not errors and scenario is not None:
        errors.extend(_scale_errors(scenario))
    if errors:
        return None, errors
    return scenario, []


def parse_scenario(source: str | bytes | dict[str, Any] | Scenario) -> Scenario:
    """Return a validated :class:`Scenario` or raise :class:`ScenarioError`."""
    if isinstance(source, Scenario):
        return source
    scenario, errors = validate_document(source)
    if errors or scenario is None:
        raise ScenarioError(errors)
    return scenario


def json_schema() -> dict[str, Any]:
    """The JSON Schema of the scenario document (``rdplan schema``)."""
    schema: dict[str, Any] = _json_schema_rules(Scenario.model_json_schema())
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "rdplan scenario (SPEC v1)"
    # What no JSON Schema can say, so that a document an editor passes is not a surprise
    # (a QA pass: 3.0 passed the schema and not validate)
    schema["$comment"] = (
        "rdplan validate is the reference and checks more than this schema can: JSON Schema"
        " takes 3.0 as an integer, validate refuses a fraction in an integer field; and the"
        " references between fields (a site's region and options, a pool's regions, years"
        " within the horizon, ids unique) are validate's alone"
    )
    return schema


#: pydantic's names of bounds it leaves unconverted where a validator runs first (``lat``,
#: ``lon``), and JSON Schema's.
_SCHEMA_BOUNDS = {
    "ge": "minimum",
    "le": "maximum",
    "gt": "exclusiveMinimum",
    "lt": "exclusiveMaximum",
}


def _json_schema_rules(node: Any) -> Any:
    """pydantic's schema with what ``rdplan validate`` enforces: bounds under JSON Schema's
    names (pydantic wrote ``lat``'s as ``ge``/``le``, which a validator ignores), and no
    ``null`` (SPEC §1: null is never a value; an optional field is left out instead)."""
    if isinstance(node, list):
        return [_json_schema_rules(item) for item in node]
    if not isinstance(node, dict):
        return node
    out = {_SCHEMA_BOUNDS.get(k, k) if "type" in node else k: v for k, v in node.items()}
    out = {k: _json_schema_rules(v) for k, v in out.items()}
    if isinstance(out.get("anyOf"), list):
        kept = [o for o in out["anyOf"] if o != {"type": "null"}]
        if len(kept) < len(out["anyOf"]):
            out.pop("anyOf")
            if out.get("default", "") is None:
                out.pop("default")
            if len(kept) == 1:
                out = {**kept[0], **out}
            else:
                out["anyOf"] = kept
    return out


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> int:
    """SPEC §2 distance: great circle in IEEE doubles, then round half up to km."""
    p1 = math.radians(lat1)
    p2 = math.radians(lat2)
    h = (
        math.sin((p2 - p1) / 2) ** 2
        + math.cos(p1) * math.cos(p2) * math.sin(math.radians(lon2 - lon1) / 2) ** 2
    )
    d = 2 * 6371.0 * math.asin(math.sqrt(h))
    return math.floor(d + 0.5)

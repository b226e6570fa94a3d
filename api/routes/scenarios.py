"""``/v1/scenarios``: store validated scenario documents (once each), read them back, derive variants."""

from __future__ import annotations

from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Depends, Path, Query, Response

from api.deps import (
    NOT_JSON,
    V1_RESPONSES,
    JsonRoute,
    SettingsDep,
    StorageDep,
    require_api_key,
    require_json_body,
)
from api.errors import ApiError
from api.schemas import (
    SCENARIO_ID_PATTERN,
    TINY_SCENARIO,
    ErrorBody,
    ScenarioDetail,
    ScenarioPage,
    ScenarioSummary,
    VariantOut,
    VariantRequest,
)
from api.settings import Settings
from solver.model import column_bound
from solver.problem import build_problem
from solver.scenario import YEAR_MAX, YEAR_MIN, FieldError, Scenario, validate_document
from solver.variants import merge_patch

router = APIRouter(
    route_class=JsonRoute,
    prefix="/v1/scenarios",
    tags=["scenarios"],
    dependencies=[Depends(require_api_key)],
    responses=V1_RESPONSES,
)

ScenarioId = Annotated[
    str, Path(pattern=SCENARIO_ID_PATTERN, description="sha256 of the canonical scenario JSON")
]
Limit = Annotated[int, Query(ge=1, le=100, description="page size")]
Offset = Annotated[int, Query(ge=0, le=1_000_000_000, description="items to skip")]


def limit_errors(settings: Settings, sites: int, years: int, crew_pools: int) -> list[FieldError]:
    out = []
    for path, n, limit, var in (
        ("sites", sites, settings.max_sites, "RDPLAN_MAX_SITES"),
        ("horizon", years, settings.max_years, "RDPLAN_MAX_YEARS"),
        ("crews", crew_pools, settings.max_crew_pools, "RDPLAN_MAX_CREW_POOLS"),
    ):
        if n > limit:
            what = {"sites": "sites", "horizon": "years", "crews": "crew pools"}[path]
            out.append(
                FieldError(
                    path=path, message=f"{n} {what}; this service accepts at most {limit} ({var})"
                )
            )
    return out


def rough_columns(sites: int, years: int, options: int, pools: int, regions: int) -> int:
    """A bound on any model of a scenario of these counts (the conflict finder's included)."""
    return sites * years * (options + pools + 1) + 2 * regions * years


def model_size_errors(settings: Settings, scenario: Scenario) -> list[FieldError]:
    """The error of a scenario whose model is larger than the service builds
    (``RDPLAN_MAX_COLUMNS``): within the other limits, 5,000 sites × 50 years × 1,000 pools
    made 12.7 M columns, whose build took 15 s and 4 GB before any time or memory limit
    applied (a QA pass). Counted without building them — the solve's model and, should the
    scenario be infeasible, the conflict finder's, which opens every window — and only when
    a rough bound says they may be."""
    rough = rough_columns(
        len(scenario.sites),
        len(scenario.years),
        len(scenario.options),
        len(scenario.crews),
        len(scenario.regions),
    )
    if rough <= settings.max_columns:
        return []
    data = build_problem(scenario)
    columns = max(column_bound(data), column_bound(data, relaxed=True))
    if columns <= settings.max_columns:
        return []
    return [
        FieldError(
            path="",
            message=f"its model would have {columns:,} columns; this service builds at most"
            f" {settings.max_columns:,} (RDPLAN_MAX_COLUMNS): fewer sites, years or pools,"
            " narrower windows or a shorter reach",
        )
    ]


def check_model_size(settings: Settings, scenario: Scenario) -> None:
    """413 for a scenario whose model is larger than the service builds."""
    too_big = model_size_errors(settings, scenario)
    if too_big:
        raise ApiError(413, "the scenario is larger than this service accepts", too_big)


def check_limits(settings: Settings, sites: int, years: int, crew_pools: int) -> None:
    errors = limit_errors(settings, sites, years, crew_pools)
    if errors:
        raise ApiError(413, "the scenario is larger than this service accepts", errors)


def _validate(document: dict[str, Any]) -> tuple[Scenario | None, list[FieldError]]:
    return validate_document(document)


def check_document_limits(document: dict[str, Any], settings: Settings) -> None:
    """413 for a document over the size limits, read before the (costly) full validation."""
    sites, regions = document.get("sites"), document.get("crews")
    horizon = document.get("horizon")
    years = 0
    # Years outside SPEC §2's range are the validation's to name (422 at horizon.start), not
    # a horizon "too large" to take (413: 1800..2031 is not a 232-year plan).
    ends: list[Any] = (
        [horizon.get(k) for k in ("start", "end")] if isinstance(horizon, dict) else []
    )
    if len(ends) == 2 and all(type(y) is int and YEAR_MIN <= y <= YEAR_MAX for y in ends):
        years = ends[1] - ends[0] + 1
    check_limits(
        settings,
        len(sites) if isinstance(sites, list) else 0,
        years,
        len(regions) if isinstance(regions, list) else 0,
    )


async def validated(document: dict[str, Any], settings: Settings) -> Scenario:
    """The scenario of a document, or 422 with every SPEC error (413 over the size limits)."""
    check_document_limits(document, settings)
    scenario, errors = await to_thread.run_sync(_validate, document)
    if scenario is None:
        raise ApiError(422, f"invalid scenario: {len(errors)} error(s)", errors)
    await to_thread.run_sync(check_model_size, settings, scenario)
    return scenario


@router.post(
    "",
    status_code=201,
    response_model=ScenarioSummary,
    summary="Store a scenario",
    dependencies=[Depends(require_json_body)],
    responses={
        **NOT_JSON,
        200: {"model": ScenarioSummary, "description": "the same scenario was already stored"},
        413: {"model": ErrorBody, "description": "body or scenario over the service's limits"},
        422: {
            "model": ErrorBody,
            "description": "the document breaks SPEC §2: every error with its path",
        },
    },
)
async def create_scenario(
    document: Annotated[
        dict[str, Any],
        Body(
            description="a scenario document (SPEC §2; `rdplan schema` prints its JSON Schema)",
            openapi_examples={
                "tiny": {
                    "summary": "the SPEC's tiny example (optimum 1855)",
                    "value": TINY_SCENARIO,
                }
            },
        ),
    ],
    response: Response,
    settings: SettingsDep,
    storage: StorageDep,
) -> ScenarioSummary:
    """Validate and store a scenario. Its id is the sha256 of its canonical JSON: storing the
    same scenario again returns the stored one (200) instead of a copy (201)."""
    scenario = await validated(document, settings)
    row, created = await to_thread.run_sync(storage.add_scenario, scenario)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/scenarios/{row.id}"
    return ScenarioSummary.of(row)


@router.get("", response_model=ScenarioPage, summary="List stored scenarios (newest first)")
def list_scenarios(storage: StorageDep, limit: Limit = 20, offset: Offset = 0) -> ScenarioPage:
    rows, total = storage.list_scenarios(limit, offset)
    return ScenarioPage(
        items=[ScenarioSummary.of(r) for r in rows], total=total, limit=limit, offset=offset
    )


@router.get(
    "/{scenario_id}",
    response_model=ScenarioDetail,
    summary="A stored scenario with its document",
    responses={404: {"model": ErrorBody, "description": "no such scenario"}},
)
def get_scenario(scenario_id: ScenarioId, storage: StorageDep) -> ScenarioDetail:
    row = storage.get_scenario(scenario_id)
    if row is None:
        raise ApiError(404, f"no scenario {scenario_id}")
    return ScenarioDetail.of(row)


@router.post(
    "/{scenario_id}/variants",
    status_code=201,
    response_model=VariantOut,
    summary="Store a variant of a stored scenario (JSON merge patch)",
    dependencies=[Depends(require_json_body)],
    responses={
        **NOT_JSON,
        200: {"model": VariantOut, "description": "the variant was already stored"},
        404: {"model": ErrorBody, "description": "no such base scenario"},
        413: {"model": ErrorBody, "description": "the patched scenario is over the limits"},
        422: {
            "model": ErrorBody,
            "description": "the patched document breaks SPEC §2: every error with its path",
        },
    },
)
async def create_variant(
    scenario_id: ScenarioId,
    req: VariantRequest,
    response: Response,
    settings: SettingsDep,
    storage: StorageDep,
) -> VariantOut:
    """Apply ``patch`` (RFC 7386: objects merge, ``null`` deletes, anything else — lists
    included — replaces) to the stored scenario, validate the result and store it like
    ``POST /v1/scenarios``; ``name`` renames it. Errors keep the paths of the patched document."""
    base = await to_thread.run_sync(storage.get_scenario, scenario_id)
    if base is None:
        raise ApiError(404, f"no scenario {scenario_id}")
    document: dict[str, Any] = merge_patch(base.document, req.patch)
    if req.name is not None:
        document["name"] = req.name
    scenario = await validated(document, settings)
    row, created = await to_thread.run_sync(storage.add_scenario, scenario)
    if not created:
        response.status_code = 200
    response.headers["Location"] = f"/v1/scenarios/{row.id}"
    return VariantOut.derived(row, base.id)

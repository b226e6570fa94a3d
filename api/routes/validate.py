"""``/v1/validate``: check a scenario document without storing it — SPEC errors and counting checks."""

from __future__ import annotations

import logging
from typing import Annotated, Any

from anyio import to_thread
from fastapi import APIRouter, Body, Depends

from api.deps import (
    NOT_JSON,
    V1_RESPONSES,
    JsonRoute,
    SettingsDep,
    require_api_key,
    require_json_body,
)
from api.routes.scenarios import check_document_limits, check_model_size
from api.schemas import TINY_SCENARIO, DiagnosticItem, ErrorBody, ErrorItem, ValidationOut
from solver.diagnostics import diagnose
from solver.scenario import Scenario, validate_document

log = logging.getLogger("rdplan.api")

router = APIRouter(
    route_class=JsonRoute,
    prefix="/v1",
    tags=["scenarios"],
    dependencies=[Depends(require_api_key)],
    responses=V1_RESPONSES,
)


def _diagnostics(scenario: Scenario) -> list[DiagnosticItem]:
    try:
        warnings = diagnose(scenario)
    except Exception as exc:  # the checks are advice: a bug in one must not hide the verdict
        log.exception("counting checks failed")
        return [
            DiagnosticItem(
                check="diagnostics",
                path="",
                message=f"the counting checks could not run: {type(exc).__name__}",
            )
        ]
    return [DiagnosticItem(check=w.check, path=w.path, message=w.message) for w in warnings]


@router.post(
    "/validate",
    response_model=ValidationOut,
    summary="Validate a scenario document (nothing is stored)",
    dependencies=[Depends(require_json_body)],
    responses={
        413: {"model": ErrorBody, "description": "body or scenario over the limits"},
        **NOT_JSON,
    },
)
async def validate(
    settings: SettingsDep,
    document: Annotated[
        Any,
        Body(
            description="a scenario document (SPEC §2)",
            openapi_examples={
                "tiny": {"summary": "the SPEC's tiny example", "value": TINY_SCENARIO}
            },
        ),
    ],
) -> ValidationOut:
    """200 with ``valid`` and every SPEC error with its path — the list ``rdplan validate``
    prints — for any JSON body. A valid scenario also gets ``warnings``: counting checks
    (demand against supply) that prove it infeasible as it stands, each with what to change."""
    if not isinstance(document, dict):
        return ValidationOut(
            valid=False,
            errors=[ErrorItem(path="", message="the document must be a JSON object")],
            warnings=[],
        )
    check_document_limits(document, settings)
    scenario, errors = await to_thread.run_sync(validate_document, document)
    if scenario is None:
        return ValidationOut(
            valid=False,
            errors=[ErrorItem(path=e.path, message=e.message) for e in errors],
            warnings=[],
        )
    await to_thread.run_sync(check_model_size, settings, scenario)  # 413, as a submission
    warnings = await to_thread.run_sync(_diagnostics, scenario)
    return ValidationOut(valid=True, errors=[], warnings=warnings)

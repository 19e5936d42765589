"""`/v1/policies`, `/v1/policies/{policy_id}` and `/v1/policies/{policy_id}/rules/{rule_id}`."""

from __future__ import annotations

import datetime as dt

from fastapi import APIRouter, Query, Request

from cspolicy.service.auth import Decider
from cspolicy.service.common import errors, find_rule, find_set
from cspolicy.service.describe import detail, rule_detail, shown_version, summary
from cspolicy.service.models import PolicyDetail, PolicyList, RuleDetail
from cspolicy.service.state import state_of

router = APIRouter(prefix="/v1", tags=["policies"])

AS_OF = Query(
    None,
    description="Describe the version in force on this date, with its parameter values (default: today)",
)


@router.get(
    "/policies",
    summary="Every policy set served",
    response_model=PolicyList,
    responses=errors(401, 403),
)
async def list_policies(request: Request, _: Decider) -> PolicyList:
    catalog = state_of(request).registry.catalog
    return PolicyList(policies=[summary(entry) for entry in catalog.sets.values()])


@router.get(
    "/policies/{policy_id}",
    summary="One policy set: its versions and the rules of the version in force",
    response_model=PolicyDetail,
    responses=errors(401, 403, 404, 422),
)
async def get_policy(
    policy_id: str,
    request: Request,
    _: Decider,
    as_of: dt.date | None = AS_OF,
) -> PolicyDetail:
    entry = find_set(state_of(request).registry.catalog, policy_id)
    return detail(entry, as_of)


@router.get(
    "/policies/{policy_id}/rules/{rule_id}",
    summary="One rule as the docs describe it",
    description="Summary, conditions in words, citations and the parameters in force on `as_of`.",
    response_model=RuleDetail,
    responses=errors(401, 403, 404, 422),
)
async def get_rule(
    policy_id: str,
    rule_id: str,
    request: Request,
    _: Decider,
    as_of: dt.date | None = AS_OF,
) -> RuleDetail:
    entry = find_set(state_of(request).registry.catalog, policy_id)
    policy, day = shown_version(entry, as_of)
    find_rule(entry, policy, rule_id)
    return rule_detail(entry, policy, day, rule_id)

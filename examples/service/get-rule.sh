#!/bin/sh
# GET /v1/policies/wisconsin/rules/passport-denial
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/policies/wisconsin/rules/passport-denial" -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

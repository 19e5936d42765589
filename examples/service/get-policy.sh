#!/bin/sh
# GET /v1/policies/wisconsin?as_of=2025-03-01
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/policies/wisconsin?as_of=2025-03-01" -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

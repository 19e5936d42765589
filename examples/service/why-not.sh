#!/bin/sh
# POST /v1/policies/wisconsin/rules/{rule_id}/why-not — why a rule did or did not apply
cd "$(dirname "$0")"
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/policies/wisconsin/rules/${RULE:-income-withholding}/why-not" \
  -H "Authorization: Bearer ${CSPOLICY_KEY:-}" -H 'Content-Type: application/json' --data-binary @snapshot.json

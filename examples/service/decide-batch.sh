#!/bin/sh
# POST /v1/policies/wisconsin/decisions:batch — JSON Lines in, JSON Lines out (line 2 is invalid on purpose)
cd "$(dirname "$0")"
curl -sS -N "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/policies/wisconsin/decisions:batch" \
  -H "Authorization: Bearer ${CSPOLICY_KEY:-}" -H 'Content-Type: application/x-ndjson' \
  --data-binary @batch.jsonl

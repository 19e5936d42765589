#!/bin/sh
# POST /v1/records/{record_id}/replay — RECORD=rec-…; "identical": true when the replay matches
curl -sS -X POST "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/records/${RECORD:?set RECORD=rec-…}/replay" \
  -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

#!/bin/sh
# GET /v1/records/{record_id} — RECORD=rec-… (from X-Record-Id of `STORE=1 ./decide.sh`)
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/records/${RECORD:?set RECORD=rec-…}" \
  -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

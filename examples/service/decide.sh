#!/bin/sh
# POST /v1/policies/wisconsin/decisions — one snapshot; add ?store=true to save a record
cd "$(dirname "$0")"
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/v1/policies/wisconsin/decisions${STORE:+?store=true}" \
  -D headers.txt -H "Authorization: Bearer ${CSPOLICY_KEY:-}" -H 'Content-Type: application/json' \
  --data-binary @snapshot.json
grep -i '^x-record-id' headers.txt; rm -f headers.txt

#!/bin/sh
# GET /metrics
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/metrics" -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

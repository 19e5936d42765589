#!/bin/sh
# GET /healthz
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/healthz" -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

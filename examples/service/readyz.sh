#!/bin/sh
# GET /readyz
curl -sS "${CSPOLICY_URL:-http://127.0.0.1:8000}/readyz" -H "Authorization: Bearer ${CSPOLICY_KEY:-}"
echo

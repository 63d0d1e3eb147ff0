#!/usr/bin/env bash
# The five holes an outside tester reproduced (issue 13), tried through a running `make run`: each must come
# back refused (4xx) within 100 ms. API and ADMIN move with the stack's ports.
set -euo pipefail
API=${API:-http://127.0.0.1:3000} ADMIN=${ADMIN:-http://127.0.0.1:3002}
tok() { curl -s -X POST "$ADMIN/token?user=$1" | sed 's/.*"accessToken":"\([^"]*\)".*/\1/'; }
A=$(tok mallory); B=$(tok victim)
call() { # who method path body [header]
  local t=$1 m=$2 p=$3 b=${4:-} h=${5:-X-Nothing: 1}
  curl -s -o /tmp/holes.out -w '%{http_code} %{time_total}' -X "$m" -H "Authorization: Bearer $t" -H 'Content-Type: application/json' -H "$h" --data-binary @- "$API$p" <<<"$b"
}
victim=$(curl -s -X POST -H "Authorization: Bearer $B" -H 'Content-Type: application/json' -H "Idempotency-Key: v-$RANDOM" -d '{"name":"Victim","baseCurrency":"USD"}' "$API/portfolios" | sed 's/.*"id":"\([^"]*\)".*/\1/')
own=$(curl -s -X POST -H "Authorization: Bearer $A" -H 'Content-Type: application/json' -H "Idempotency-Key: m-$RANDOM" -d '{"name":"Mine","baseCurrency":"USD"}' "$API/portfolios" | sed 's/.*"id":"\([^"]*\)".*/\1/')
curl -s -o /dev/null -X POST -H "Authorization: Bearer $A" -H 'Content-Type: application/json' -d '{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"10","price":"100"}' "$API/portfolios/$own/transactions"
sleep 1
big=$(head -c 1900000 /dev/zero | tr '\0' '9')
for kind in value_drop weight_drift drawdown var_breach concentration; do
  extra='"threshold":"0.05"'; [ $kind = value_drop ] && extra="$extra,\"window\":\"1h\""; [ $kind = weight_drift ] && extra="$extra,\"symbol\":\"AAPL\",\"targetWeight\":\"0.5\""
  echo "1 rule $kind on another's portfolio:  $(call "$A" POST /alerts "{\"kind\":\"$kind\",\"portfolioId\":\"$victim\",$extra}")  $(head -c 90 /tmp/holes.out)"
done
for d in 0000-01-01 0001-01-05 9999-12-31; do
  echo "2 trade dated $d:               $(call "$A" POST /portfolios/$own/transactions "{\"type\":\"BUY\",\"date\":\"$d\",\"symbol\":\"AAPL\",\"quantity\":\"1\",\"price\":\"1\"}")  $(head -c 90 /tmp/holes.out)"
done
echo "3 threshold of 1.9 MB of digits:        $(call "$A" POST /alerts "{\"kind\":\"price_above\",\"symbol\":\"AAPL\",\"threshold\":\"$big\"}")  $(head -c 90 /tmp/holes.out)"
echo "4 If-Match \"999\" on another's portfolio: $(call "$A" POST /portfolios/$victim/transactions '{"type":"BUY","date":"2024-01-02","symbol":"AAPL","quantity":"1","price":"1"}' 'If-Match: "999"')  $(head -c 90 /tmp/holes.out)"
echo "4 bad body on another's portfolio:       $(call "$A" POST /portfolios/$victim/transactions '{"type":"BUY","date":"0000-01-01"}')  $(head -c 90 /tmp/holes.out)"
echo "5 SPLIT 9223372036854775807:1:           $(call "$A" POST /portfolios/$own/transactions '{"type":"SPLIT","date":"2024-02-01","symbol":"AAPL","ratio":"9223372036854775807:1"}')  $(head -c 90 /tmp/holes.out)"

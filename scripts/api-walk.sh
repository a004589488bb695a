#!/usr/bin/env bash
# A walk through every endpoint of docs/API.md with curl against a running
# stack (default http://127.0.0.1:8000). Exits non-zero at the first answer that
# differs from the contract. Usage: scripts/api-walk.sh [BASE_URL]
set -euo pipefail
base=${1:-${WDM_GATEWAY:-http://127.0.0.1:8000}}
step=0

# call METHOD PATH WANT_STATUS [BODY_SUBSTRING]: prints the body.
call() {
	local method=$1 path=$2 want=$3 expect=${4:-}
	local out status body
	out=$(curl -sS -X "$method" -w $'\n%{http_code}' "$base$path")
	status=${out##*$'\n'}
	body=${out%$'\n'*}
	step=$((step + 1))
	if [[ $status != "$want" ]]; then
		echo "FAIL $step: $method $path answered $status, want $want: $body" >&2
		exit 1
	fi
	if [[ -n $expect && $body != *"$expect"* ]]; then
		echo "FAIL $step: $method $path body $body lacks $expect" >&2
		exit 1
	fi
	echo "ok $step: $method $path -> $status $body" >&2
	printf '%s' "$body"
}

# field JSON KEY: the string or number value of KEY in a flat JSON object.
field() {
	sed -E 's/.*"'"$2"'"[[:space:]]*:[[:space:]]*"?([^",}]*)"?.*/\1/' <<<"$1"
}

# Stock
item=$(field "$(call POST /stock/item/create/7 200 item_id)" item_id)
call GET "/stock/find/$item" 200 '"stock":0' >/dev/null
call POST "/stock/add/$item/10" 200 >/dev/null
call POST "/stock/subtract/$item/3" 200 >/dev/null
call POST "/stock/subtract/$item/8" 400 error >/dev/null
call GET "/stock/find/$item" 200 '"stock":7' >/dev/null
call POST /stock/batch_init/5/100/3 200 msg >/dev/null
call GET /stock/find/4 200 '"price":3' >/dev/null

# Payment
user=$(field "$(call POST /payment/create_user 200 user_id)" user_id)
call GET "/payment/find_user/$user" 200 '"credit":0' >/dev/null
call POST "/payment/add_funds/$user/100" 200 done >/dev/null
call POST "/payment/pay/$user/30" 200 >/dev/null
call POST "/payment/pay/$user/1000" 400 error >/dev/null
call POST "/payment/pay/$user/order-a/20" 200 >/dev/null
call POST "/payment/pay/$user/order-a/20" 200 >/dev/null
call GET "/payment/find_user/$user" 200 '"credit":50' >/dev/null
call GET "/payment/status/$user/order-a" 200 '"paid":true' >/dev/null
call POST "/payment/cancel/$user/order-a" 200 >/dev/null
call POST "/payment/status/$user/order-a" 200 '"paid":false' >/dev/null
call POST "/payment/cancel/$user/order-b" 400 error >/dev/null
call GET "/payment/find_user/$user" 200 '"credit":70' >/dev/null
call POST /payment/batch_init/5/50 200 msg >/dev/null
call GET /payment/find_user/3 200 '"credit":50' >/dev/null

# Orders
call POST /orders/create/no-such-user 400 error >/dev/null
order=$(field "$(call POST "/orders/create/$user" 200 order_id)" order_id)
call POST "/orders/addItem/$order/$item/2" 200 >/dev/null
call POST "/orders/addItem/$order/$item" 200 >/dev/null
call POST "/orders/addItem/$order/no-such-item/1" 400 error >/dev/null
call POST "/orders/addItem/$order/$item/0" 400 error >/dev/null
call DELETE "/orders/removeItem/$order/$item" 200 >/dev/null
call GET "/orders/find/$order" 200 '"total_cost":14' >/dev/null
gone=$(field "$(call POST "/orders/create/$user" 200 order_id)" order_id)
call DELETE "/orders/remove/$gone" 200 >/dev/null
call GET "/orders/find/$gone" 404 error >/dev/null
call POST /orders/batch_init/5/5/5/3 200 msg >/dev/null
call GET /orders/find/2 200 '"paid":false' >/dev/null

# Checkout: 14 from credit 70, 2 units of stock 7.
call POST "/orders/checkout/$order" 200 >/dev/null
call GET "/orders/find/$order" 200 '"paid":true' >/dev/null
call POST "/orders/checkout/$order" 200 >/dev/null
call GET "/payment/find_user/$user" 200 '"credit":56' >/dev/null
call GET "/stock/find/$item" 200 '"stock":5' >/dev/null
call POST "/orders/addItem/$order/$item/1" 400 error >/dev/null
poor=$(field "$(call POST /payment/create_user 200 user_id)" user_id)
unpaid=$(field "$(call POST "/orders/create/$poor" 200 order_id)" order_id)
call POST "/orders/addItem/$unpaid/$item/1" 200 >/dev/null
call POST "/orders/checkout/$unpaid" 400 error >/dev/null
call GET "/stock/find/$item" 200 '"stock":5' >/dev/null
call GET "/orders/find/$unpaid" 200 '"paid":false' >/dev/null

# Bad input
call POST /stock/add/$item/-1 400 error >/dev/null
call POST /stock/add/$item/abc 400 error >/dev/null
call POST /stock/add/$item/99999999999999999999 400 error >/dev/null
call GET /no/such/route 404 error >/dev/null

echo "API walk: $step passed, 0 failed"

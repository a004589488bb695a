"""Locust load test of the web shop: the course's two workloads, written for
this project (knative/loadtest; the Go load client is tools/cmd/bench).

MixedUser     the 2023 scenarios: each run makes its own items, user and
              order, weights 5/30/25/20/10/10, two of them checkouts that
              must fail (no stock for the second item, no credit).
CheckoutUser  the 2024 test: batch_init items, users and orders once when
              the test starts, then check out random orders.

Against `make up`:
    locust -f knative/loadtest/locustfile.py --host http://127.0.0.1:8000 MixedUser
    locust -f knative/loadtest/locustfile.py --host http://127.0.0.1:8000 CheckoutUser
In a cluster: kubectl apply -k knative/loadtest (see the README), against
the bench overlay, which routes batch_init.

Every request goes through call(); its third argument is the route as
API.md writes it, which is also the name Locust reports it under
(knative/loadtest_test.go checks every one against API.md).
"""

import os
import random

import requests
from locust import HttpUser, between, events, task
from locust.runners import WorkerRunner

# Sizes of the 2024 test (environment, so master and workers agree).
ITEMS = int(os.environ.get("WDM_ITEMS", "100000"))
USERS = int(os.environ.get("WDM_USERS", "100000"))
ORDERS = int(os.environ.get("WDM_ORDERS", "100000"))
ITEM_PRICE = int(os.environ.get("WDM_ITEM_PRICE", "1"))
STARTING_STOCK = int(os.environ.get("WDM_STARTING_STOCK", "1000000"))
STARTING_CREDIT = int(os.environ.get("WDM_STARTING_CREDIT", "1000000"))
# batch_init writes up to 100,000 rows per call; the public route allows 300 s.
BATCH_TIMEOUT = 330


def call(client, method, url, route, expect_failure=False, accept=(200,)):
    """Sends one request, reported under its API.md route. A must-fail
    checkout counts as a success when it is refused with a 4xx, and as a
    failure when it is paid; otherwise a status outside accept fails."""
    with client.request(method, url, name=route, catch_response=True) as response:
        if expect_failure:
            if 400 <= response.status_code < 500:
                response.success()
            else:
                response.failure(f"must fail, got {response.status_code}")
        elif response.status_code in accept:
            response.success()
        else:
            response.failure(f"status {response.status_code}")
        return response


@events.test_start.add_listener
def batch_init(environment, **_kwargs):
    """The 2024 test's setup, once per test: on the master (or the only
    process), never on a worker, and only when CheckoutUser runs."""
    if isinstance(environment.runner, WorkerRunner):
        return
    if CheckoutUser not in (environment.user_classes or []):
        return
    session = requests.Session()
    session.request = _with_base(session.request, environment.host, BATCH_TIMEOUT)
    for method, url, route in (
        ("POST", f"/stock/batch_init/{ITEMS}/{STARTING_STOCK}/{ITEM_PRICE}", "/stock/batch_init/{n}/{starting_stock}/{item_price}"),
        ("POST", f"/payment/batch_init/{USERS}/{STARTING_CREDIT}", "/payment/batch_init/{n}/{starting_money}"),
        ("POST", f"/orders/batch_init/{ORDERS}/{ITEMS}/{USERS}/{ITEM_PRICE}", "/orders/batch_init/{n}/{n_items}/{n_users}/{item_price}"),
    ):
        response = session.request(method, url)
        if response.status_code != 200:
            raise RuntimeError(f"{method} {route}: {response.status_code} {response.text[:200]}")


def _with_base(request, host, timeout):
    def send(method, url, **kwargs):
        kwargs.setdefault("timeout", timeout)
        return request(method, host.rstrip("/") + url, **kwargs)

    return send


class CheckoutUser(HttpUser):
    """2024: check out random orders of the batch_init set."""

    wait_time = between(0, 0)

    @task
    def checkout(self):
        order = random.randrange(ORDERS)
        # Paid, or refused for stock or credit: both are answers, not errors.
        call(self.client, "POST", f"/orders/checkout/{order}", "/orders/checkout/{order_id}", accept=(200, 400))


class MixedUser(HttpUser):
    """2023: the six scenarios, picked by weight, each on objects it makes."""

    wait_time = between(1, 1)

    def item(self, stock=True):
        item_id = call(self.client, "POST", f"/stock/item/create/{random.randint(1, 10)}", "/stock/item/create/{price}").json()["item_id"]
        if stock:
            call(self.client, "POST", f"/stock/add/{item_id}/{random.randint(100, 1000)}", "/stock/add/{item_id}/{amount}")
        return item_id

    def user(self, funds=True):
        user_id = call(self.client, "POST", "/payment/create_user", "/payment/create_user").json()["user_id"]
        if funds:
            call(self.client, "POST", f"/payment/add_funds/{user_id}/{random.randint(10000, 100000)}", "/payment/add_funds/{user_id}/{amount}")
        return user_id

    def order(self, user_id, items):
        order_id = call(self.client, "POST", f"/orders/create/{user_id}", "/orders/create/{user_id}").json()["order_id"]
        for item_id in items:
            call(self.client, "POST", f"/orders/addItem/{order_id}/{item_id}", "/orders/addItem/{order_id}/{item_id}")
        return order_id

    def checkout(self, order_id, must_fail=False):
        call(self.client, "POST", f"/orders/checkout/{order_id}", "/orders/checkout/{order_id}", expect_failure=must_fail)

    @task(5)
    def admin_creates_item(self):
        self.item()

    @task(30)
    def one_item_checkout(self):
        self.checkout(self.order(self.user(), [self.item()]))

    @task(25)
    def two_item_checkout(self):
        self.checkout(self.order(self.user(), [self.item(), self.item()]))

    @task(20)
    def add_remove_add_checkout(self):
        item_id = self.item()
        order_id = self.order(self.user(), [item_id])
        call(self.client, "DELETE", f"/orders/removeItem/{order_id}/{item_id}", "/orders/removeItem/{order_id}/{item_id}")
        call(self.client, "POST", f"/orders/addItem/{order_id}/{item_id}", "/orders/addItem/{order_id}/{item_id}")
        call(self.client, "GET", f"/orders/find/{order_id}", "/orders/find/{order_id}")
        self.checkout(order_id)

    @task(10)
    def must_fail_stock(self):
        # The second item never gets stock.
        self.checkout(self.order(self.user(), [self.item(), self.item(stock=False)]), must_fail=True)

    @task(10)
    def must_fail_credit(self):
        # The user never gets funds.
        self.checkout(self.order(self.user(funds=False), [self.item()]), must_fail=True)

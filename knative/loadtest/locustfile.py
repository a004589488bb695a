"""Locust load test of the web shop: the course's two workloads, written for
this project (knative/loadtest; the Go load client is tools/cmd/bench).

MixedUser     the 2023 scenarios, as workload.json beside this file defines
              them (the Go load client runs the same file): each run makes
              its own items, user and order, two of them checkouts that
              must fail (no stock for the second item, no credit).
CheckoutUser  the 2024 test: batch_init items, users and orders once when
              the test starts, then check out random orders.

Against `make up`:
    locust -f knative/loadtest/locustfile.py --host http://127.0.0.1:8000 MixedUser
    locust -f knative/loadtest/locustfile.py --host http://127.0.0.1:8000 CheckoutUser
In a cluster: kubectl apply -k knative/loadtest (see docs/deploying-gke.md), against
the bench overlay, which routes batch_init.

Every request goes through call(); its third argument is the route as
API.md writes it, which is also the name Locust reports it under
(knative/loadtest_test.go checks every one, and workload.json's, against
API.md).
"""

import json
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

# The mixed workload's scenarios and ops (mounted beside this file in the
# cluster, as it is in the repository).
with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "workload.json")) as f:
    WORKLOAD = json.load(f)


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


def _scenario(scenario):
    """A Locust task that runs one scenario of workload.json."""

    def run(user):
        made = {"items": []}
        for step in scenario["steps"]:
            user.step(step, made)

    run.__name__ = scenario["name"]
    return run


class MixedUser(HttpUser):
    """2023: the scenarios of workload.json, picked by weight, each on
    objects it makes."""

    wait_time = between(1, 1)
    tasks = {_scenario(sc): sc["weight"] for sc in WORKLOAD["scenarios"]}

    def step(self, step, made):
        """Sends one op of a scenario with the IDs made so far (made) and
        random parameters drawn from the op's ranges; keeps the ID a
        create answers with."""
        op = WORKLOAD["ops"][step["op"]]
        values = {name: random.randint(low, high) for name, (low, high) in sorted(op.get("params", {}).items())}
        if "{item_id}" in op["route"]:
            values["item_id"] = made["items"][step.get("item", 0)]
        values.update(user_id=made.get("user_id"), order_id=made.get("order_id"))
        url = op["route"].format(**values)
        response = call(self.client, op["method"], url, op["route"], expect_failure=step.get("must_fail", False))
        if step["op"] == "create_item":
            made["items"].append(response.json()["item_id"])
        elif step["op"] in ("create_user", "create_order"):
            key = "user_id" if step["op"] == "create_user" else "order_id"
            made[key] = response.json()[key]

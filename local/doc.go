// Package local is the local platform: it stands in on one machine for the
// cluster, so the shop runs and is tested without one. Its packages are the
// supervisor that runs every component as an OS process restarted like a pod
// (stack, with the gateway in stack/gateway and the file a running stack is
// found by in stackfile), private Postgres and RabbitMQ servers (servers), the
// scheduling of those processes (procsched), and the test services: real
// servers and migrated databases for tests (testenv) and an in-memory broker
// (eventtest). Nothing here is deployed: the shop's runtime is in internal/.
package local

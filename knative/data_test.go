package knative

import (
	"slices"
	"strconv"
	"testing"

	batchv1 "k8s.io/api/batch/v1"

	"github.com/wdm-knative/webshop/internal/operation"
)

// cnpgCluster is the part of a CloudNativePG Cluster the checks read.
type cnpgCluster struct {
	Spec struct {
		Instances       int `json:"instances"`
		MinSyncReplicas int `json:"minSyncReplicas"`
		PostgreSQL      struct {
			Parameters map[string]string `json:"parameters"`
		} `json:"postgresql"`
		Bootstrap struct {
			InitDB struct {
				Database string `json:"database"`
				Owner    string `json:"owner"`
			} `json:"initdb"`
		} `json:"bootstrap"`
		Storage struct {
			Size string `json:"size"`
		} `json:"storage"`
	} `json:"spec"`
}

func TestPostgresClusterPerDomainWithFailover(t *testing.T) {
	clusters := map[string]cnpgCluster{}
	for _, m := range ofKind(baseManifests(t), "postgresql.cnpg.io/v1", "Cluster") {
		var c cnpgCluster
		decodeLoose(t, m, &c)
		clusters[m.Metadata.Name] = c
	}
	for _, d := range []operation.Domain{operation.Order, operation.Stock, operation.Payment} {
		name := DatabaseCluster(d)
		t.Run(name, func(t *testing.T) {
			c, ok := clusters[name]
			if !ok {
				t.Fatalf("no CloudNativePG Cluster %s", name)
			}
			// A primary and two replicas: one can fail over while another still replicates.
			if c.Spec.Instances < 3 {
				t.Errorf("instances %d, want >= 3", c.Spec.Instances)
			}
			if c.Spec.MinSyncReplicas < 1 {
				t.Errorf("asynchronous replication: a failover could lose committed sagas")
			}
			if c.Spec.Bootstrap.InitDB.Database == "" || c.Spec.Bootstrap.InitDB.Owner == "" || c.Spec.Storage.Size == "" {
				t.Errorf("incomplete spec %+v", c.Spec)
			}
		})
	}
}

// TestPostgresConnectionBudget: every Service of a database at max-scale,
// each instance with its pool plus one LISTEN connection, must fit in 90% of
// max_connections (the rest: superuser slots, the operator, the migration Job).
func TestPostgresConnectionBudget(t *testing.T) {
	for _, m := range ofKind(baseManifests(t), "postgresql.cnpg.io/v1", "Cluster") {
		var c cnpgCluster
		decodeLoose(t, m, &c)
		limit, err := strconv.Atoi(c.Spec.PostgreSQL.Parameters["max_connections"])
		if err != nil {
			t.Errorf("%s: max_connections %q: %v", m, c.Spec.PostgreSQL.Parameters["max_connections"], err)
			continue
		}
		need := 0
		for _, op := range operation.All {
			if DatabaseCluster(op.Domain) == m.Metadata.Name {
				s := ScalingFor(op)
				need += s.MaxScale * (s.DBConns + 1)
			}
		}
		if need == 0 || need > limit*9/10 {
			t.Errorf("%s: Services may open %d connections, max_connections is %d", m, need, limit)
		}
	}
}

func TestMigrationJobMigratesEveryDatabase(t *testing.T) {
	jobs := ofKind(baseManifests(t), "batch/v1", "Job")
	if len(jobs) != 1 {
		t.Fatalf("%d Jobs, want the one migration Job", len(jobs))
	}
	var job batchv1.Job
	decodeStrict(t, jobs[0], &job)
	c := job.Spec.Template.Spec.Containers
	if len(c) != 1 {
		t.Fatalf("%d containers", len(c))
	}
	secrets := map[string]string{}
	for _, e := range c[0].Env {
		if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
			secrets[e.Name] = e.ValueFrom.SecretKeyRef.Name
		}
	}
	for _, d := range []operation.Domain{operation.Order, operation.Stock, operation.Payment} {
		if got, want := secrets[DSNVariable(d)], AppSecret(DatabaseCluster(d)); got != want {
			t.Errorf("%s from secret %q, want %q", DSNVariable(d), got, want)
		}
	}
	if job.Spec.TTLSecondsAfterFinished == nil {
		t.Errorf("no ttlSecondsAfterFinished: the finished Job would block the next apply")
	}
}

func TestRabbitMQClusterAndBrokerConfig(t *testing.T) {
	ms := baseManifests(t)
	var clusters []string
	for _, m := range ofKind(ms, "rabbitmq.com/v1beta1", "RabbitmqCluster") {
		var c struct {
			Spec struct {
				Replicas int `json:"replicas"`
			} `json:"spec"`
		}
		decodeLoose(t, m, &c)
		if c.Spec.Replicas != 3 {
			t.Errorf("%s: %d replicas, want 3 (quorum queues survive one loss)", m, c.Spec.Replicas)
		}
		clusters = append(clusters, m.Metadata.Name)
	}
	configs := ofKind(ms, "eventing.knative.dev/v1alpha1", "RabbitmqBrokerConfig")
	if len(configs) == 0 {
		t.Fatal("no RabbitmqBrokerConfig")
	}
	for _, m := range configs {
		var c struct {
			APIVersion string         `json:"apiVersion"`
			Kind       string         `json:"kind"`
			Metadata   map[string]any `json:"metadata"`
			Spec       struct {
				RabbitmqClusterReference struct {
					Name      string `json:"name"`
					Namespace string `json:"namespace"`
				} `json:"rabbitmqClusterReference"`
				QueueType string `json:"queueType"`
			} `json:"spec"`
		}
		decodeStrict(t, m, &c)
		if c.Spec.QueueType != "quorum" {
			t.Errorf("%s: queueType %q, want quorum", m, c.Spec.QueueType)
		}
		if !slices.Contains(clusters, c.Spec.RabbitmqClusterReference.Name) {
			t.Errorf("%s references RabbitmqCluster %q, not one of %v", m, c.Spec.RabbitmqClusterReference.Name, clusters)
		}
	}
}

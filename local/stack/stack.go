// Package stack runs the whole web shop on one machine, as `make up` does and
// as end-to-end tests do: Postgres and RabbitMQ (private instances unless
// settings name existing servers), migrations, the broker, the function
// processes and the gateway, each a supervised OS process that is restarted
// when it dies, like a pod.
package stack

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	dbmigrations "github.com/wdm-knative/webshop/db-migrations"
	"github.com/wdm-knative/webshop/internal/operation"
	"github.com/wdm-knative/webshop/local/servers"
	"github.com/wdm-knative/webshop/local/stackfile"
)

// Names of the infrastructure components, for Kill and WaitReady.
const (
	Postgres = "postgres"
	RabbitMQ = "rabbitmq"
	Broker   = "broker"
	Gateway  = "gateway"
)

// Databases are the databases the stack creates, one per domain with data.
var Databases = dbmigrations.Databases

// Stack is a running local web shop.
type Stack struct {
	opts       Options
	log        *slog.Logger
	sup        *Supervisor
	gatewayURL string
	pgAddr     string
	amqpURL    string
	stopEPMD   bool   // this stack's RabbitMQ started epmd, so Stop ends it
	pgSocket   string // the private Postgres's socket folder, removed on Stop
	stopOnce   sync.Once
	stopPing   context.CancelFunc
}

// Start runs a stack and returns once every component is ready. Fields of
// opts left zero get the defaults of `make up` (see Options). On error,
// everything already started is stopped.
func Start(ctx context.Context, opts Options) (_ *Stack, err error) {
	if opts, err = opts.withDefaults(); err != nil {
		return nil, err
	}
	procs, err := Plan(opts.Grouping)
	if err != nil {
		return nil, err
	}
	for _, d := range []string{opts.Dir, opts.logDir(), opts.BinDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, err
		}
	}
	s := &Stack{opts: opts, log: opts.Log, sup: NewSupervisor(opts.Log), pgAddr: opts.PGAddr, amqpURL: opts.AMQPURL}
	defer func() {
		if err != nil {
			s.Stop()
		}
	}()
	ports := &portPicker{used: map[int]bool{}}
	if err := s.startServers(ctx, ports); err != nil {
		return nil, err
	}
	if opts.ServicesOnly {
		return s, nil
	}
	l, err := s.layOut(ports, procs)
	if err != nil {
		return nil, err
	}
	comps := s.components(l)
	s.log.Info("starting processes", "grouping", opts.Grouping, "count", len(comps))
	if err := s.sup.Start(ctx, comps...); err != nil {
		return nil, err
	}
	s.startPing(l.brokerURL())
	if err := s.writeEndpoints(l); err != nil {
		return nil, err
	}
	return s, nil
}

// startServers runs phase 1, in parallel: the servers (RabbitMQ takes ~7 s
// to boot) and the build; migrations as soon as Postgres is up. The
// private servers' ports are kept for the next run.
func (s *Stack) startServers(ctx context.Context, ports *portPicker) error {
	saved := loadPorts(filepath.Join(s.opts.Dir, "ports.json"))
	tasks := []func(context.Context) error{
		func(ctx context.Context) error {
			if s.pgAddr == "" {
				if err := s.startPostgres(ctx, ports, saved); err != nil {
					return err
				}
			}
			if s.opts.ServicesOnly {
				return nil
			}
			return s.migrate(ctx)
		},
		func(ctx context.Context) error {
			if s.amqpURL != "" {
				return nil
			}
			return s.startRabbitMQ(ctx, ports, saved)
		},
	}
	if !s.opts.ServicesOnly {
		tasks = append(tasks, s.build)
	}
	if err := parallel(ctx, tasks...); err != nil {
		return err
	}
	saved.save(filepath.Join(s.opts.Dir, "ports.json"))
	return nil
}

// layout is where every process of phase 2 listens. The addresses are fixed
// up front so that each process can be told where the others are before
// any of them runs.
type layout struct {
	procs      []Process
	brokerPort int
	procPort   map[string]int    // process name → its port
	baseURL    map[string]string // process name → http://127.0.0.1:port
}

func (l layout) brokerURL() string { return fmt.Sprintf("http://127.0.0.1:%d/", l.brokerPort) }

// layOut picks the gateway's address (a free port for port 0, else checks
// that the configured one is free), the broker's port and one per process.
func (s *Stack) layOut(ports *portPicker, procs []Process) (layout, error) {
	l := layout{procs: procs, procPort: map[string]int{}, baseURL: map[string]string{}}
	host, port, err := net.SplitHostPort(s.opts.GatewayAddr)
	if err != nil {
		return l, fmt.Errorf("gateway address %q: %w", s.opts.GatewayAddr, err)
	}
	if port == "0" {
		p, err := ports.pick()
		if err != nil {
			return l, err
		}
		s.opts.GatewayAddr = net.JoinHostPort(host, strconv.Itoa(p))
	} else if err := checkFree(s.opts.GatewayAddr); err != nil {
		return l, fmt.Errorf("gateway address %s is in use (set WDM_GATEWAY_ADDR): %w", s.opts.GatewayAddr, err)
	}
	s.gatewayURL = "http://" + s.opts.GatewayAddr
	if l.brokerPort, err = ports.pick(); err != nil {
		return l, err
	}
	for _, p := range procs {
		if l.procPort[p.Name], err = ports.pick(); err != nil {
			return l, err
		}
		l.baseURL[p.Name] = fmt.Sprintf("http://127.0.0.1:%d", l.procPort[p.Name])
	}
	return l, nil
}

// components are the processes of phase 2: the broker, the function
// processes and the gateway, each with the settings that tell it where the
// others are.
func (s *Stack) components(l layout) []Component {
	routes, subscribers := routeSettings(l.procs, l.baseURL)
	// The broker is ready once it holds its RabbitMQ connections.
	comps := []Component{s.component(Broker, "broker", httpReady(l.brokerURL()+"health/ready"),
		"BROKER_PORT="+strconv.Itoa(l.brokerPort),
		"AMQP_URL="+s.amqpURL,
		"TRIGGERS_DIR="+strings.Join(append([]string{filepath.Join(s.opts.ModuleDir, "knative", "base")},
			s.opts.TriggerDirs...), string(os.PathListSeparator)),
		"SUBSCRIBER_URLS="+subscribers,
	)}
	for _, p := range l.procs {
		comps = append(comps, s.component(p.Name, "function", httpReady(l.baseURL[p.Name]+"/health/readiness"), s.functionEnv(l, p)...))
	}
	return append(comps, s.component(Gateway, "gateway", httpReady(s.gatewayURL+"/health/readiness"),
		"GATEWAY_ADDR="+s.opts.GatewayAddr,
		"ROUTES="+routes,
	))
}

// functionEnv is the settings of function process p.
func (s *Stack) functionEnv(l layout, p Process) []string {
	env := []string{
		"PORT=" + strconv.Itoa(l.procPort[p.Name]),
		"FUNCTION=" + p.Function,
		"ORDER_DSN=" + s.functionDSN("order"),
		"STOCK_DSN=" + s.functionDSN("stock"),
		"PAYMENT_DSN=" + s.functionDSN("payment"),
		"K_SINK=" + l.brokerURL(),
		// Straight to the owning process, as a cluster-local Service URL
		// would be: the public gateway is one proxy hop more per call.
		"STOCK_URL=" + servingURL(l.procs, l.baseURL, operation.StockFind),
		"PAYMENT_URL=" + servingURL(l.procs, l.baseURL, operation.PaymentFindUser),
	}
	if s.opts.Grouping == GroupByOperation {
		// 27 processes with the default pool of 16 could ask for more
		// connections than the private Postgres allows (400).
		env = append(env, "DB_MAX_CONNS=8")
	}
	return env
}

// startPing starts the local PingSource stand-in; Stop ends it.
func (s *Stack) startPing(sink string) {
	ctx, stop := context.WithCancel(context.Background())
	s.stopPing = stop
	ping := &pingSource{sink: sink, interval: s.opts.PingInterval, log: s.log, client: &http.Client{}}
	go ping.run(ctx)
}

// goProcs is the GOMAXPROCS of the stack's Go processes unless the
// environment sets one. A process with more than one P wakes idle ones to
// look for work (futex wake-ups, spinning, each one an IPI in a VM) on
// every request it takes; on this stack's 2-core machine, shared by six Go
// processes, Postgres and RabbitMQ, measured on the checkout workload, one P
// each took about 15 % less CPU per checkout in those processes and
// lowered the tail (README "Performance" at commit 53a5078).
const goProcs = "1"

// component is a process of one of the stack's binaries with settings env.
func (s *Stack) component(name, binary string, ready func(context.Context) error, env ...string) Component {
	if os.Getenv("GOMAXPROCS") == "" {
		env = append(env, "GOMAXPROCS="+goProcs)
	}
	env = append(append(env, "LOG_LEVEL="+s.opts.LogLevel.String()), s.opts.Env...)
	return Component{
		Name: name,
		Command: func() (*exec.Cmd, error) {
			cmd := exec.Command(filepath.Join(s.opts.BinDir, binary))
			cmd.Dir = s.opts.ModuleDir
			cmd.Env = append(os.Environ(), env...)
			return cmd, nil
		},
		Ready:        ready,
		ReadyTimeout: 30 * time.Second,
		// Room to finish requests in flight (a checkout waits for its saga)
		// and deliveries, before the pools close.
		StopGrace: 35 * time.Second,
		Log:       s.opts.logFile(name),
		Sched:     s.sched(goTimerSlack),
	}
}

func (s *Stack) startPostgres(ctx context.Context, ports *portPicker, saved *savedPorts) error {
	port, err := ports.reuse(saved.Postgres)
	if err != nil {
		return err
	}
	saved.Postgres = port
	s.log.Info("starting private postgres", "port", port)
	pg, err := servers.NewPostgres(ctx, filepath.Join(s.opts.Dir, "postgres"), port)
	if err != nil {
		return err
	}
	s.pgSocket = pg.SocketDir()
	if err := s.sup.Start(ctx, Component{
		Name:         Postgres,
		Command:      pg.Command,
		Ready:        pg.WaitReady,
		StopSignal:   syscall.SIGINT, // "fast" shutdown: SIGTERM would wait for every client to leave
		StopGrace:    30 * time.Second,
		ReadyTimeout: 2 * time.Minute, // crash recovery after a kill replays WAL first
		Log:          s.opts.logFile(Postgres),
		Sched:        s.sched(serverTimerSlack),
	}); err != nil {
		return err
	}
	s.pgAddr = fmt.Sprintf("127.0.0.1:%d", port)
	return nil
}

func (s *Stack) startRabbitMQ(ctx context.Context, ports *portPicker, saved *savedPorts) error {
	port, err := ports.reuse(saved.RabbitMQ)
	if err != nil {
		return err
	}
	dist, err := ports.reuse(saved.RabbitMQDist)
	if err != nil {
		return err
	}
	saved.RabbitMQ, saved.RabbitMQDist = port, dist
	// The node registers with epmd, starting it as a daemon (outside any
	// process group) when none runs; the stack ends it again on Stop.
	s.stopEPMD = checkFree("127.0.0.1:4369") == nil
	s.log.Info("starting private rabbitmq", "port", port)
	r, err := servers.NewRabbitMQ(filepath.Join(s.opts.Dir, "rabbitmq"), port, dist)
	if err != nil {
		return err
	}
	if err := s.sup.Start(ctx, Component{
		Name:         RabbitMQ,
		Command:      r.Command,
		Ready:        r.WaitReady,
		StopGrace:    30 * time.Second,
		ReadyTimeout: 2 * time.Minute,
		Log:          s.opts.logFile(RabbitMQ),
		Sched:        s.sched(serverTimerSlack),
	}); err != nil {
		return err
	}
	s.amqpURL = r.URL()
	return nil
}

// migrate creates the three databases and applies their migrations.
func (s *Stack) migrate(ctx context.Context) error {
	if err := servers.CreateDatabases(ctx, s.DSN("postgres"), Databases...); err != nil {
		return fmt.Errorf("create databases: %w", err)
	}
	for _, db := range Databases {
		if err := dbmigrations.Apply(ctx, s.DSN(db), db); err != nil {
			return err
		}
	}
	s.log.Info("databases migrated", "databases", Databases)
	return nil
}

// binaries the stack runs. Only these are built: linking is the slow part
// of a build, and the other commands are not needed to run the shop.
var binaries = []string{"./cmd/function", "./cmd/broker", "./cmd/gateway"}

func (s *Stack) build(ctx context.Context) error {
	start := time.Now()
	goBin, err := exec.LookPath("go")
	if err != nil {
		return fmt.Errorf("building needs the go command: %w", err)
	}
	cmd := exec.CommandContext(ctx, goBin, append([]string{"build", "-o", s.opts.BinDir + "/"}, binaries...)...)
	cmd.Dir = s.opts.ModuleDir
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("go build: %w\n%s", err, out.Bytes())
	}
	s.log.Info("built", "binaries", binaries, "dir", s.opts.BinDir, "took", time.Since(start).Round(time.Millisecond).String())
	return nil
}

// GatewayURL is the base URL of the public API ("http://127.0.0.1:8000").
func (s *Stack) GatewayURL() string { return s.gatewayURL }

// PostgresAddr is the host:port of the Postgres server the stack uses.
func (s *Stack) PostgresAddr() string { return s.pgAddr }

// AMQPURL is the address of the RabbitMQ server the stack uses.
func (s *Stack) AMQPURL() string { return s.amqpURL }

// DSN is the connection string of database db ("order", "stock", ...).
func (s *Stack) DSN(db string) string {
	u := s.dsnURL(db)
	return u.String()
}

// functionDSN is the connection string the function processes get: through
// the private server's Unix socket when the stack runs one, since a loopback
// TCP round trip costs both ends the kernel's TCP stack, and a checkout makes
// five (in a cluster the DSN comes from the database's secret instead).
func (s *Stack) functionDSN(db string) string {
	u := s.dsnURL(db)
	if _, port, err := net.SplitHostPort(s.pgAddr); s.pgSocket != "" && err == nil {
		q := u.Query()
		q.Set("host", s.pgSocket)
		q.Set("port", port)
		u.Host, u.RawQuery = "", q.Encode()
	}
	return u.String()
}

// dsnURL is database db on the stack's Postgres over TCP.
func (s *Stack) dsnURL(db string) url.URL {
	u := url.URL{Scheme: "postgres", Host: s.pgAddr, Path: "/" + db, RawQuery: "sslmode=disable"}
	if s.opts.PGPassword != "" {
		u.User = url.UserPassword(s.opts.PGUser, s.opts.PGPassword)
	} else {
		u.User = url.User(s.opts.PGUser)
	}
	return u
}

// Components lists the names of the supervised processes, in start order.
func (s *Stack) Components() []string { return s.sup.Names() }

// Kill ends a component with SIGKILL, as a crash would, and returns once it
// is dead; the stack restarts it. WaitReady tells when it serves again.
func (s *Stack) Kill(name string) error { return s.sup.Kill(name) }

// WaitReady blocks until the named component runs and is ready.
func (s *Stack) WaitReady(ctx context.Context, name string) error {
	return s.sup.WaitReady(ctx, name)
}

// Pid is the process id of a component's current instance (0 if none).
func (s *Stack) Pid(name string) int { return s.sup.Pid(name) }

// Stop stops every process the stack started and waits until they are gone.
func (s *Stack) Stop() {
	s.stopOnce.Do(func() {
		if s.stopPing != nil {
			s.stopPing()
		}
		_ = os.Remove(stackfile.Path(s.opts.Dir))
		s.sup.Stop()
		if s.pgSocket != "" {
			_ = os.RemoveAll(s.pgSocket)
		}
		if s.stopEPMD {
			// Refused by epmd while any node is still registered, so another
			// user's node keeps its epmd.
			_ = exec.Command("epmd", "-kill").Run()
		}
		s.log.Info("stack stopped")
	})
}

// httpReady polls url until it answers 200.
func httpReady(url string) func(context.Context) error {
	client := &http.Client{Timeout: time.Second}
	return func(ctx context.Context) error {
		for {
			req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
			if err != nil {
				return err
			}
			resp, err := client.Do(req)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
				err = fmt.Errorf("%s: %s", url, resp.Status)
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("not ready: %w (%w)", err, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
}

// parallel runs tasks at once and joins their errors; the first error
// cancels the others.
func parallel(ctx context.Context, tasks ...func(context.Context) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	errs := make([]error, len(tasks))
	var wg sync.WaitGroup
	for i, task := range tasks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[i] = task(ctx); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// findModule finds the repository root above the working directory.
func findModule() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("stack: no go.mod above the working directory; set Options.ModuleDir")
		}
		dir = parent
	}
}

// portPicker hands out distinct free loopback ports below the kernel's
// ephemeral range (32768+): a restarted process must get its port back,
// and an outgoing connection could otherwise be sitting on it by then.
type portPicker struct {
	mu   sync.Mutex
	used map[int]bool
}

const portLow, portHigh = 20000, 32000

func (pp *portPicker) pick() (int, error) { return pp.reuse(0) }

// reuse returns want when it is free (a server keeps its port across runs),
// else a new port.
func (pp *portPicker) reuse(want int) (int, error) {
	pp.mu.Lock()
	defer pp.mu.Unlock()
	if want != 0 && !pp.used[want] && checkFree(fmt.Sprintf("127.0.0.1:%d", want)) == nil {
		pp.used[want] = true
		return want, nil
	}
	for range 500 {
		p := portLow + rand.IntN(portHigh-portLow)
		if !pp.used[p] && checkFree(fmt.Sprintf("127.0.0.1:%d", p)) == nil {
			pp.used[p] = true
			return p, nil
		}
	}
	return 0, errors.New("no free port found")
}

// checkFree reports an error when addr cannot be listened on.
func checkFree(addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// savedPorts keeps the private servers on the same ports across runs: a
// RabbitMQ node's name (and so its data folder) contains its port.
type savedPorts struct {
	Postgres     int `json:"postgres"`
	RabbitMQ     int `json:"rabbitmq"`
	RabbitMQDist int `json:"rabbitmq_dist"`
}

func loadPorts(path string) *savedPorts {
	var p savedPorts
	if b, err := os.ReadFile(path); err == nil {
		_ = json.Unmarshal(b, &p)
	}
	return &p
}

func (p *savedPorts) save(path string) {
	b, _ := json.Marshal(p)
	_ = os.WriteFile(path, b, 0o644)
}

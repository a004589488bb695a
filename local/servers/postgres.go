package servers

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// Postgres is a private PostgreSQL server whose data lives in Dir.
type Postgres struct {
	Dir  string // holds data/, sock/ and postgres.log
	Port int
	cred *syscall.Credential // set when running as root: postgres refuses root
}

// NewPostgres prepares (initdb on first use) a server in dir on port.
// As root the server runs as the `postgres` system user; when that user cannot
// reach dir (a home folder of mode 0700, say) the data goes to a folder in /tmp
// that dir links to, so the caller's layout stays the same.
func NewPostgres(ctx context.Context, dir string, port int) (*Postgres, error) {
	p := &Postgres{Dir: dir, Port: port}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			return nil, fmt.Errorf("postgres must not run as root and there is no postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if !othersCanReach(dir) {
			if err := p.relocate(); err != nil {
				return nil, err
			}
		}
	}
	if _, err := os.Stat(filepath.Join(p.dataDir(), "PG_VERSION")); err == nil {
		return p, nil
	}
	if err := p.mkdirOwned(p.dataDir(), 0o700); err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, PostgresBin+"/initdb", "-D", p.dataDir(), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--no-locale")
	p.asOwner(cmd)
	if out, err := cmd.CombinedOutput(); err != nil {
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	return p, nil
}

// relocate moves the server's files to /tmp (reachable by the postgres user)
// and leaves a link at p.Dir/data pointing there.
func (p *Postgres) relocate() error {
	link := filepath.Join(p.Dir, "data")
	if target, err := os.Readlink(link); err == nil {
		if _, err := os.Stat(target); err == nil {
			return nil
		}
		os.Remove(link)
	}
	tmp, err := os.MkdirTemp("", "wdm-pg-")
	if err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return err
	}
	if err := p.mkdirOwned(filepath.Join(tmp, "data"), 0o700); err != nil {
		return err
	}
	return os.Symlink(filepath.Join(tmp, "data"), link)
}

// dataDir is the data folder, with links resolved: the postgres user may not
// be able to pass through p.Dir to follow a link.
func (p *Postgres) dataDir() string {
	d := filepath.Join(p.Dir, "data")
	if r, err := filepath.EvalSymlinks(d); err == nil {
		return r
	}
	return d
}

// SocketDir is where the server puts its Unix socket (kept short: sockets
// have a 107-byte path limit).
func (p *Postgres) SocketDir() string {
	return filepath.Join(os.TempDir(), fmt.Sprintf("wdm-pg-sock-%d", p.Port))
}

func (p *Postgres) mkdirOwned(dir string, mode os.FileMode) error {
	if err := os.MkdirAll(dir, mode); err != nil {
		return err
	}
	if err := os.Chmod(dir, mode); err != nil {
		return err
	}
	if p.cred != nil {
		return os.Chown(dir, int(p.cred.Uid), int(p.cred.Gid))
	}
	return nil
}

func (p *Postgres) asOwner(cmd *exec.Cmd) {
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
}

// Command returns the server process, in the foreground, so a supervisor can
// watch and restart it. Durability stays on: this server holds money.
func (p *Postgres) Command() (*exec.Cmd, error) {
	waitDataDirFree(p.dataDir(), 10*time.Second)
	if err := p.mkdirOwned(p.SocketDir(), 0o755); err != nil {
		return nil, err
	}
	log, err := logFile(filepath.Join(p.Dir, "postgres.log"))
	if err != nil {
		return nil, err
	}
	if p.cred != nil {
		_ = os.Chown(log.Name(), int(p.cred.Uid), int(p.cred.Gid))
	}
	cmd := exec.Command(PostgresBin+"/postgres", "-D", p.dataDir(),
		"-p", strconv.Itoa(p.Port), "-k", p.SocketDir(),
		"-c", "listen_addresses=127.0.0.1",
		"-c", "max_connections=400",
		"-c", "shared_buffers=512MB",
		"-c", "fsync=on", "-c", "synchronous_commit=on", "-c", "full_page_writes=on",
		// Group commit: concurrent transactions share one WAL flush.
		"-c", "commit_delay=200", "-c", "commit_siblings=4",
		"-c", "max_wal_size=2GB",
	)
	p.asOwner(cmd)
	ownGroup(cmd)
	cmd.Stdout, cmd.Stderr = log, log
	return cmd, nil
}

// WaitReady waits until the server accepts queries.
func (p *Postgres) WaitReady(ctx context.Context) error {
	if err := waitTCP(ctx, fmt.Sprintf("127.0.0.1:%d", p.Port)); err != nil {
		return err
	}
	for {
		conn, err := pgx.Connect(ctx, p.DSN("postgres"))
		if err == nil {
			conn.Close(ctx)
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgres on %d not ready: %w", p.Port, err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// DSN is the connection string for database db on this server.
func (p *Postgres) DSN(db string) string {
	return ServerDSN(fmt.Sprintf("127.0.0.1:%d", p.Port), db)
}

// ServerDSN is the DSN for database db on the trust-auth server at addr.
func ServerDSN(addr, db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", addr, db)
}

// CreateDatabases creates each named database that does not exist yet, on the
// server that adminDSN reaches.
func CreateDatabases(ctx context.Context, adminDSN string, names ...string) error {
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	for _, n := range names {
		var exists bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", n).Scan(&exists); err != nil {
			return err
		}
		if exists {
			continue
		}
		if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{n}.Sanitize()); err != nil && !strings.Contains(err.Error(), "already exists") {
			return fmt.Errorf("create database %s: %w", n, err)
		}
	}
	return nil
}

// othersCanReach reports whether every folder above dir lets other users in.
func othersCanReach(dir string) bool {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return false
	}
	for d := filepath.Dir(abs); ; d = filepath.Dir(d) {
		fi, err := os.Stat(d)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if d == "/" {
			return true
		}
	}
}

// waitDataDirFree waits (up to limit) until no live process works in dir.
// Postgres backends run in sessions of their own, so killing a postmaster's
// process group leaves them to notice its death and exit on their own; until
// they have, they hold the shared memory and a new postmaster refuses to
// start. Every backend's working directory is the data directory, which is
// how they are found.
func waitDataDirFree(dir string, limit time.Duration) {
	for deadline := time.Now().Add(limit); dirInUse(dir) && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
}

// dirInUse reports whether a live process has dir as its working
// directory. Processes whose cwd cannot be read (another user's, without
// root) are not counted.
func dirInUse(dir string) bool {
	return anyLiveProcess(func(pid string, _ []string) bool {
		cwd, err := os.Readlink(filepath.Join("/proc", pid, "cwd"))
		return err == nil && cwd == dir
	})
}

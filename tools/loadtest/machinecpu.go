package loadtest

import (
	"bufio"
	"errors"
	"os"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of /proc/stat: 100 on every Linux
// architecture Go supports.
const clockTicks = 100

// machineBusy is the CPU time (seconds, all cores) the whole machine spent
// outside idle and iowait so far, from /proc/stat. The shop, its servers and
// the load client share the machine, so this is the cost of a run as a whole.
func machineBusy() (float64, error) {
	f, err := os.Open("/proc/stat")
	if err != nil {
		return 0, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	if !sc.Scan() {
		return 0, errors.New("/proc/stat is empty")
	}
	return parseCPULine(sc.Text())
}

// parseCPULine reads the aggregate "cpu" line of /proc/stat: user nice system
// idle iowait irq softirq steal ...; busy is everything but idle and iowait.
func parseCPULine(line string) (float64, error) {
	fields := strings.Fields(line)
	if len(fields) < 8 || fields[0] != "cpu" {
		return 0, errors.New("no aggregate cpu line in /proc/stat")
	}
	var busy uint64
	for i, f := range fields[1:] {
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already counted in user
			break
		}
		v, err := strconv.ParseUint(f, 10, 64)
		if err != nil {
			return 0, err
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}

package main

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/mptcp-pm/mptcp-pm/control"
	"github.com/mptcp-pm/mptcp-pm/sockdiag"
)

const connectionUsage = `Usage: mptcp-pm connection show [token TOKEN] [--control PATH]
       mptcp-pm connection trace token TOKEN [--for DURATION] [--svg FILE] [--html FILE] [--control PATH]
       mptcp-pm connection trace [token TOKEN] --from FILE [--svg FILE] [--html FILE]
       mptcp-pm connection watch [token TOKEN] [--interval DURATION] [--control PATH]

Lists the MPTCP connections of the namespace from sock_diag (no daemon
needed): token, addresses, state, and each subflow with its addresses,
address IDs, backup flags (ours, and the peer's as "backup_remote"),
smoothed RTT/variance, retransmissions and lost segments. When a daemon
answers on the control socket, each connection it manages also shows its
application, mode and active interfaces.

"trace" draws one connection over time (--svg FILE, --html FILE): each
subflow's throughput, RTT and retransmissions, sampled every 100 ms from
sock_diag, with the daemon's decisions and the kernel's events about the
connection marked on them. It records for --for DURATION, or until the
connection closes or SIGINT. With -j it also prints the recording, one
JSON object per line, which --from FILE draws again; --from also reads
what monitor -j and monitor decisions -j print. The kernel's events need
CAP_NET_ADMIN, the decisions a daemon (root or the control group):
without either, the trace goes on without its marks.

"watch" redraws every --interval (default 1s) the connections (or one),
each subflow's throughput, RTT and retransmissions since the last frame,
and the daemon's last decision about each connection, until SIGINT.

  --control PATH  the daemon's control socket (default: as for status)
`

type connection = sockdiag.Conn

func runConnection(e *env, args []string) error {
	return verb(e, "connection", connectionUsage, args, "show", []command{
		{name: "show", run: connectionShow},
		{name: "trace", run: connectionTrace},
		{name: "watch", run: connectionWatch},
	})
}

// tcpStates are the names ss(8) prints for TCP states.
var tcpStates = [...]string{1: "ESTAB", 2: "SYN-SENT", 3: "SYN-RECV", 4: "FIN-WAIT-1", 5: "FIN-WAIT-2",
	6: "TIME-WAIT", 7: "UNCONN", 8: "CLOSE-WAIT", 9: "LAST-ACK", 10: "LISTEN", 11: "CLOSING"}

func stateName(s uint8) string {
	if int(s) < len(tcpStates) && tcpStates[s] != "" {
		return tcpStates[s]
	}
	return "STATE" + strconv.Itoa(int(s))
}

type subflowJSON struct {
	Local        string `json:"local"`
	Remote       string `json:"remote"`
	State        string `json:"state"`
	LocID        uint8  `json:"locid"`
	RemID        uint8  `json:"remid"`
	Backup       bool   `json:"backup"`
	BackupRemote bool   `json:"backup_remote"`
	Dev          string `json:"dev,omitempty"`
	RTTus        int64  `json:"rtt_us"`
	RTTVarUs     int64  `json:"rttvar_us"`
	RTOms        int64  `json:"rto_ms"`
	Retransmits  uint32 `json:"retransmits"`
	TotalRetrans uint32 `json:"total_retrans"`
	Lost         uint32 `json:"lost"`
	Cwnd         uint32 `json:"cwnd"`
	BytesAcked   uint64 `json:"bytes_acked"`
	BytesRetrans uint64 `json:"bytes_retrans"`
}

type connectionJSON struct {
	Token       string        `json:"token"`
	Application string        `json:"application,omitempty"`
	Mode        string        `json:"mode,omitempty"`
	Active      []string      `json:"active,omitempty"`
	Local       string        `json:"local"`
	Remote      string        `json:"remote"`
	State       string        `json:"state"`
	UID         uint32        `json:"uid"`
	Inode       uint32        `json:"inode"`
	Subflows    []subflowJSON `json:"subflows"`
}

func connectionShow(e *env, args []string) error {
	var socket string
	args, err := parseFlags("connection show", args, map[string]*string{"control": &socket}, nil)
	if err != nil {
		return err
	}
	token, haveToken, err := (&scanner{cmd: "connection show", args: args}).onlyToken()
	if err != nil {
		return err
	}
	conns, err := e.dumpConns(e)
	if err != nil {
		return err
	}
	if haveToken {
		var keep []connection
		for _, c := range conns {
			if c.Token == token {
				keep = append(keep, c)
			}
		}
		conns = keep
	}
	managed := map[string]control.ConnStatus{}
	if e.daemonView != nil {
		if st := e.daemonView(e, socket); st != nil {
			for _, c := range st.Connections {
				managed[c.Token] = c
			}
		}
	}
	var lt linkTable
	dev := func(idx uint32) string {
		if idx == 0 {
			return ""
		}
		if lt == nil {
			if lt, err = e.dumpLinks(e); err != nil {
				return "if" + strconv.Itoa(int(idx))
			}
		}
		if n := lt.Name(int32(idx)); n != "" {
			return n
		}
		return "if" + strconv.Itoa(int(idx))
	}
	if e.json {
		return printConnsJSON(e, conns, managed, dev)
	}
	printConns(e, conns, managed, dev)
	return nil
}

// printConnsJSON prints conns as a JSON list, with what the daemon does
// with those it manages; dev names an interface index.
func printConnsJSON(e *env, conns []connection, managed map[string]control.ConnStatus, dev func(uint32) string) error {
	return printJSON(e.stdout, connsJSON(conns, managed, dev))
}

// connsJSON is conns as `connection show -j` prints them.
func connsJSON(conns []connection, managed map[string]control.ConnStatus, dev func(uint32) string) []connectionJSON {
	out := make([]connectionJSON, 0, len(conns))
	for _, c := range conns {
		cj := connectionJSON{
			Token: fmt.Sprintf("%08x", c.Token), Local: c.Local.String(), Remote: c.Remote.String(),
			State: stateName(c.State), UID: c.UID, Inode: c.Inode, Subflows: []subflowJSON{},
		}
		if m, ok := managed[cj.Token]; ok {
			cj.Application, cj.Mode, cj.Active = m.Application, m.Mode, m.Active
		}
		for _, sf := range c.Subflows {
			cj.Subflows = append(cj.Subflows, subflowJSON{
				Local: sf.Local.String(), Remote: sf.Remote.String(), State: stateName(sf.State),
				LocID: sf.LocID, RemID: sf.RemID, Backup: sf.Backup, BackupRemote: sf.BackupRemote,
				Dev: dev(sf.IfIndex), RTTus: sf.RTT.Microseconds(), RTTVarUs: sf.RTTVar.Microseconds(),
				RTOms: sf.RTO.Milliseconds(), Retransmits: sf.Retransmits, TotalRetrans: sf.TotalRetrans,
				Lost: sf.Lost, Cwnd: sf.SndCwnd, BytesAcked: sf.BytesAcked, BytesRetrans: sf.BytesRetrans,
			})
		}
		out = append(out, cj)
	}
	return out
}

// printConns prints conns one line each, then their subflows, as ss(8)
// would.
func printConns(e *env, conns []connection, managed map[string]control.ConnStatus, dev func(uint32) string) {
	for _, c := range conns {
		fmt.Fprintf(e.stdout, "token %08x %s -> %s %s uid %d subflows %d",
			c.Token, c.Local, c.Remote, stateName(c.State), c.UID, len(c.Subflows))
		if m, ok := managed[fmt.Sprintf("%08x", c.Token)]; ok {
			fmt.Fprintf(e.stdout, " app %s mode %s active %s", m.Application, m.Mode, strings.Join(m.Active, ","))
		}
		fmt.Fprintln(e.stdout)
		for _, sf := range c.Subflows {
			var b strings.Builder
			fmt.Fprintf(&b, "\tsubflow %s -> %s %s locid %d remid %d rtt %s/%s rto %s retrans %d/%d lost %d",
				sf.Local, sf.Remote, stateName(sf.State), sf.LocID, sf.RemID,
				ms(sf.RTT), ms(sf.RTTVar), ms(sf.RTO), sf.Retransmits, sf.TotalRetrans, sf.Lost)
			if sf.Backup {
				b.WriteString(" backup")
			}
			if sf.BackupRemote {
				b.WriteString(" backup_remote")
			}
			if d := dev(sf.IfIndex); d != "" {
				b.WriteString(" dev " + d)
			}
			fmt.Fprintln(e.stdout, b.String())
		}
	}
}

// ms formats a duration in milliseconds with three decimals, as ss(8) does.
func ms(d time.Duration) string {
	return strconv.FormatFloat(float64(d.Microseconds())/1000, 'f', 3, 64) + "ms"
}

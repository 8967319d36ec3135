package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/mptcp-pm/mptcp-pm/engine"
	"github.com/mptcp-pm/mptcp-pm/genl"
)

// announced hands the peer's ADD_ADDR ev to the engine, which decides what
// becomes of it, and logs what it did.
func (d *Daemon) announced(ev genl.Event, base engine.EventBase) {
	r := d.step(engine.PeerAnnounced{EventBase: base, Token: ev.Token, RemID: ev.RemID, Remote: ev.Remote})
	switch r.Announcement {
	case engine.AnnouncementRefused:
		d.logAnnouncement(ev, base.At, slog.LevelWarn, "peer announcement refused: never followed", "why", r.Why)
	case engine.AnnouncementOff:
		d.logAnnouncement(ev, base.At, slog.LevelInfo, "peer announcement ignored (accept_announcements is off)", "policy", r.Policy.Name)
	case engine.AnnouncementNotFrom:
		d.logAnnouncement(ev, base.At, slog.LevelInfo, "peer announcement ignored (not in announcements_from)", "policy", r.Policy.Name)
	}
}

// logAnnouncement logs what became of the peer's ADD_ADDR ev. A peer can
// send them as fast as it likes: the log gets a few per connection and
// interval.
func (d *Daemon) logAnnouncement(ev genl.Event, at time.Time, level slog.Level, msg string, more ...any) {
	ok, suppressed, last := d.announceLog.allow(ev.Token, at)
	if !ok {
		return
	}
	args := append([]any{"token", tokenString(ev.Token), "remote", ev.Remote.String(), "remid", ev.RemID}, more...)
	if suppressed > 0 {
		args = append(args, "suppressed", suppressed)
	}
	if last {
		args = append(args, "more", fmt.Sprintf("further ones of this connection are not logged for %v", announceLogInterval))
	}
	d.log.Log(context.Background(), level, msg, args...)
}

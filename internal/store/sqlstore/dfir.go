package sqlstore

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/bannin-soc/bannin/internal/alert"
	"github.com/bannin-soc/bannin/internal/ticket"
)

// destructive are the ATT&CK techniques of ransomware and other
// destructive impact (triage's P0 class).
var destructive = []string{"T1486", "T1490", "T1485", "T1489", "T1561", "T1491"}

// SetDFIR puts an incident of the tenant in DFIR mode, or takes it out,
// with a note in Japanese and English and an audit entry. DFIR mode is for
// ransomware and other destructive attacks (seed 003): the incident must be
// P0 or carry a destructive-impact technique, else ErrConflict and nothing
// changes. Putting it in needs a reason.
func (db *DB) SetDFIR(ctx context.Context, tenant string, incidentID int64, on bool, actor, why string, at time.Time) (*ticket.Incident, error) {
	var in *ticket.Incident
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		if in, err = tx.Incident(ctx, tenant, incidentID); err != nil {
			return err
		}
		if in.DFIR == on {
			return nil
		}
		why = strings.TrimSpace(why)
		if on {
			if why == "" {
				return fmt.Errorf("%w: DFIR mode for %s needs a reason", ErrConflict, in.Ref)
			}
			if !isDestructive(in) {
				return fmt.Errorf("%w: DFIR mode is for ransomware and other destructive attacks: %s is %s with techniques %v",
					ErrConflict, in.Ref, in.Priority, in.Techniques)
			}
		}
		flag := 0
		if on {
			flag = 1
		}
		if _, err := tx.ExecContext(ctx, `UPDATE incidents SET dfir=$1, updated_at=$2 WHERE tenant=$3 AND id=$4`,
			flag, micros(at), tenant, incidentID); err != nil {
			return fmt.Errorf("DFIR mode of %s: %w", in.Ref, err)
		}
		in.DFIR, in.UpdatedAt = on, at
		text := fmt.Sprintf("DFIR モードに移行しました（%s）/ moved to DFIR mode (%s): %s", actor, actor, why)
		action := "incident.dfir_on"
		if !on {
			text = fmt.Sprintf("DFIR モードを解除しました（%s）/ DFIR mode ended (%s)", actor, actor)
			if why != "" {
				text += ": " + why
			}
			action = "incident.dfir_off"
		}
		if err := tx.AddNote(ctx, tenant, in.ID, ticket.Note{At: at, Author: actor, Text: text}); err != nil {
			return err
		}
		return tx.Audit(ctx, AuditEntry{Tenant: tenant, At: at, Actor: actor, Action: action, Object: in.Ref, Detail: why})
	})
	return in, err
}

func isDestructive(in *ticket.Incident) bool {
	if in.Priority == alert.P0 {
		return true
	}
	for _, t := range in.Techniques {
		for _, d := range destructive {
			if t == d || strings.HasPrefix(t, d+".") {
				return true
			}
		}
	}
	return false
}

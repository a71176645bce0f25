package runs

import (
	"context"
	"fmt"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/fleetd/fleetd/pkg/api"
	"github.com/fleetd/fleetd/pkg/incident"
	"github.com/fleetd/fleetd/pkg/inventory"
)

// Incidents feeds pkg/incident with a run's results (or every device's
// latest result) and the inventory facts it groups by, in one query each.
// Only the checks the rules read are loaded (incident.EvidenceChecks, of
// devices that are not healthy), filtered in PostgreSQL: a 10,000-device
// fleet with 3,000 unhealthy devices sends and parses a few hundred small
// documents, not 3,000 whole ones.
type Incidents struct {
	pool *pgxpool.Pool
	cfg  incident.Config
}

// NewIncidents returns an Incidents with thresholds cfg (validated by the caller).
func NewIncidents(pool *pgxpool.Pool, cfg incident.Config) *Incidents {
	return &Incidents{pool: pool, cfg: cfg}
}

// ForRun finds the incidents of run id's finished devices.
func (s *Incidents) ForRun(ctx context.Context, id uuid.UUID) (incident.Result, error) {
	cols, join := inventory.IncidentFactsSQL("d", "rd.device_id")
	return s.find(ctx, `SELECT rd.device, rd.site, rd.kind, rd.health, rd.diagnoses, rd.sw_version,
			`+evidenceChecksSQL+`, `+cols+`
		FROM run_devices rd `+join+`
		WHERE rd.run_id = $5 AND rd.state = 'done'`, evidenceArgs(id)...)
}

// Current finds the incidents of every device's latest result.
func (s *Incidents) Current(ctx context.Context) (incident.Result, error) {
	cols, join := inventory.IncidentFactsSQL("d", "s.device_id")
	return s.find(ctx, `SELECT rd.device, rd.site, rd.kind, rd.health, rd.diagnoses, rd.sw_version,
			`+evidenceChecksSQL+`, `+cols+`
		FROM device_status s JOIN run_devices rd ON rd.run_id = s.run_id AND rd.device_id = s.device_id `+join+`
		WHERE d.id IS NOT NULL`, evidenceArgs()...)
}

// evidenceChecksSQL selects, of rd's checks, those incident.EvidenceChecks
// names; NULL for a device with none to read. Its parameters are $1..$4
// (evidenceArgs).
const evidenceChecksSQL = `CASE WHEN rd.health <> 'healthy' AND ($1 = ANY (rd.diagnoses) OR rd.kind = $3) THEN
			(SELECT jsonb_agg(c) FROM jsonb_array_elements(rd.checks) c
			 WHERE c->>'id' = ANY ($2) OR (rd.kind = $3 AND starts_with(c->>'id', $4))) END`

func evidenceArgs(more ...any) []any {
	e := incident.EvidenceChecks
	return append([]any{e.Diagnosis, e.IDs, e.Kind, e.Prefix}, more...)
}

func (s *Incidents) find(ctx context.Context, q string, args ...any) (incident.Result, error) {
	rows, err := s.pool.Query(ctx, q, args...)
	if err != nil {
		return incident.Result{}, fmt.Errorf("load results for incidents: %w", err)
	}
	devs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (incident.Device, error) {
		var d incident.Device
		var checks []byte
		var seen string
		var f inventory.IncidentFacts
		err := row.Scan(append([]any{&d.Name, &d.Site, &d.Kind, &d.Health, &d.Diagnoses, &seen, &checks}, f.IncidentFactsDest()...)...)
		d.ManagedBy, d.Credential, d.JumpChain = f.ManagedBy, f.Credential, f.JumpChain()
		// The inventory's version (a tag, an FMC sync) when it has one, else
		// what the device's banner said during the check.
		if d.Version = f.Version(); d.Version == "" {
			d.Version = seen
		}
		d.Checks = incident.ParseChecks(checks)
		return d, err
	})
	if err != nil {
		return incident.Result{}, fmt.Errorf("load results for incidents: %w", err)
	}
	return incident.Find(devs, s.cfg), nil
}

// Annotate puts res's incidents on run and, on each device of run that one
// explains, the incident's ID; a device an fmc-rooted incident explains is
// to be fixed on its FMC, which RecommendedOn names.
func Annotate(run *Run, res incident.Result) {
	run.Incidents = res.Incidents
	for i := range run.Devices {
		d := &run.Devices[i]
		k, ok := res.ByDevice[d.Device]
		if !ok {
			continue
		}
		in := res.Incidents[k]
		d.Incident = in.ID
		if in.Kind == api.IncidentFMCRooted {
			d.RecommendedOn, _ = in.Evidence["fmc"].(string)
		}
	}
}
